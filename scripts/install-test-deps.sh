#!/usr/bin/env bash
# Installs, idempotently, what the tests and benchmarks need on a fresh machine:
# Debian packages (samba, smbclient, openssh-server, zstd, openssl), pwsh 7.6.9 as a dotnet global
# tool, and Pester 5.7.1 from NuGet. Prints where pwsh and Pester are.
set -euo pipefail

PWSH_VERSION=7.6.9
PESTER_VERSION=5.7.1
DEBIAN_PACKAGES=(samba smbclient openssh-server zstd openssl sqlite3)

missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "install-test-deps: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts the services it installs; the tests run their own, on their own ports.
for service in smbd nmbd samba-ad-dc ssh; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then systemctl stop "$service" || true; fi
done

PWSH="$HOME/.dotnet/tools/pwsh"
if ! command -v pwsh >/dev/null && [[ ! -x $PWSH ]]; then
  echo "install-test-deps: installing PowerShell $PWSH_VERSION as a dotnet global tool"
  dotnet tool install --global PowerShell --version "$PWSH_VERSION" >/dev/null
fi

PESTER_DIR="$HOME/.nuget/packages/pester/$PESTER_VERSION"
if [[ ! -f $PESTER_DIR/tools/Pester.psd1 ]]; then
  echo "install-test-deps: restoring Pester $PESTER_VERSION from NuGet"
  project=$(mktemp -d)
  cat >"$project/pester.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net$(dotnet --version | cut -d. -f1).0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Pester" Version="[$PESTER_VERSION]" /></ItemGroup>
</Project>
XML
  dotnet restore "$project/pester.csproj" >/dev/null
  rm -rf "$project"
fi
echo "install-test-deps: pwsh $(command -v pwsh || echo "$PWSH"), Pester $PESTER_DIR"
