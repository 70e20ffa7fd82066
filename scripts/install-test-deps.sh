#!/usr/bin/env bash
# Installs, idempotently, what the tests and benchmarks need on a fresh machine:
# Debian packages (samba, smbclient, openssh-server, zstd, openssl, sqlite3; prometheus for promtool,
# chromium to render the HTML report headless, systemd for systemd-analyze to check the service's
# unit), pwsh 7.6.9 as a dotnet
# global tool, and Pester 5.7.1 from NuGet. Where it cannot install something (not root and no
# password-less sudo, no package registry, no .NET SDK), it stops at once with one line naming what
# is missing and the command that installs it. Prints where pwsh and Pester are.
set -euo pipefail

PWSH_VERSION=7.6.9
PESTER_VERSION=5.7.1
DEBIAN_PACKAGES=(samba smbclient openssh-server zstd openssl sqlite3 prometheus chromium systemd)
PWSH="$HOME/.dotnet/tools/pwsh"
PESTER_DIR="$HOME/.nuget/packages/pester/$PESTER_VERSION"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# One line, what is missing and how to install it, then stop: the tests cannot run without it.
missing() {
  echo "install-test-deps: MISSING $1 — install it with: $2" >&2
  exit 1
}

# Runs a command as root: directly, or through password-less sudo; fails when neither is possible.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 1
  fi
}

install_debian_packages() {
  local absent=()
  for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || absent+=("$package")
  done
  ((${#absent[@]})) || return 0
  local command="sudo apt-get update && sudo apt-get install -y --no-install-recommends ${absent[*]}"
  command -v apt-get >/dev/null || missing "${absent[*]}" "your system's package manager (Debian names: ${absent[*]})"
  as_root true || missing "${absent[*]} (this user is not root and has no password-less sudo)" "$command"
  echo "install-test-deps: installing ${absent[*]}"
  local rc=0
  as_root apt-get update -qq >"$log" 2>&1 || rc=$?
  ((rc == 0)) || missing "${absent[*]} (apt-get update failed: $(tail -1 "$log"))" "$command"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${absent[@]}" >"$log" 2>&1 ||
    missing "${absent[*]} (apt-get install failed: $(tail -1 "$log"))" "$command"
  # Debian starts the services it installs; the tests run their own, on their own ports.
  for service in smbd nmbd samba-ad-dc ssh prometheus; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
      as_root systemctl stop "$service" || true
    fi
  done
}

install_pwsh() {
  command -v pwsh >/dev/null || [[ -x $PWSH ]] && return 0
  local command="dotnet tool install --global PowerShell --version $PWSH_VERSION"
  command -v dotnet >/dev/null ||
    missing "PowerShell $PWSH_VERSION (pwsh) and the .NET SDK that installs it" \
      "the .NET SDK (https://learn.microsoft.com/dotnet/core/install/linux), then: $command"
  echo "install-test-deps: installing PowerShell $PWSH_VERSION as a dotnet global tool"
  dotnet tool install --global PowerShell --version "$PWSH_VERSION" >"$log" 2>&1 ||
    missing "PowerShell $PWSH_VERSION (dotnet tool install failed: $(tail -1 "$log"))" "$command"
}

install_pester() {
  [[ -f $PESTER_DIR/tools/Pester.psd1 ]] && return 0
  command -v dotnet >/dev/null ||
    missing "Pester $PESTER_VERSION and the .NET SDK that restores it" \
      "the .NET SDK, then run this script again; or: pwsh -c 'Install-Module Pester -RequiredVersion $PESTER_VERSION' and copy it to $PESTER_DIR"
  echo "install-test-deps: restoring Pester $PESTER_VERSION from NuGet"
  local project
  project=$(mktemp -d)
  cat >"$project/pester.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net$(dotnet --version | cut -d. -f1).0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Pester" Version="[$PESTER_VERSION]" /></ItemGroup>
</Project>
XML
  local rc=0
  dotnet restore "$project/pester.csproj" >"$log" 2>&1 || rc=$?
  rm -rf "$project"
  ((rc == 0)) || missing "Pester $PESTER_VERSION (dotnet restore failed: $(grep -m1 -E 'error' "$log" || tail -1 "$log"))" \
    "bash scripts/install-test-deps.sh, once NuGet is reachable"
}

install_debian_packages
install_pwsh
install_pester
echo "install-test-deps: pwsh $(command -v pwsh || echo "$PWSH"), Pester $PESTER_DIR"
