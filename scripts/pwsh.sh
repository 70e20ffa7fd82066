#!/usr/bin/env bash
# Runs the real pwsh (PATH, else the dotnet global tool) with DOTNET_ROOT set, as a tool-installed
# pwsh needs. Says how to install it when it is missing.
set -euo pipefail
pwsh_bin=$(command -v pwsh || true)
[[ -n $pwsh_bin ]] || pwsh_bin="$HOME/.dotnet/tools/pwsh"
if [[ ! -x $pwsh_bin ]]; then
  if command -v dotnet >/dev/null; then
    echo "pwsh not found; installing PowerShell 7.6.9 as a dotnet global tool…" >&2
    dotnet tool install --global PowerShell --version 7.6.9 >&2
  else
    echo "pwsh not found. Install PowerShell 7 (https://learn.microsoft.com/powershell/scripting/install/installing-powershell)," >&2
    echo "or the .NET SDK and then: dotnet tool install --global PowerShell --version 7.6.9" >&2
    exit 127
  fi
fi
if [[ -z ${DOTNET_ROOT:-} ]] && command -v dotnet >/dev/null; then
  DOTNET_ROOT=$(dirname "$(readlink -f "$(command -v dotnet)")")
  export DOTNET_ROOT
fi
export POWERSHELL_TELEMETRY_OPTOUT=1 POWERSHELL_UPDATECHECK=Off
exec "$pwsh_bin" -NoLogo -NoProfile "$@"
