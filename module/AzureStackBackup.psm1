# AzureStackBackup: a thin PowerShell layer over the AzureStackBackup daemon. Every public cmdlet
# shapes its parameters, asks ShouldProcess where it changes state, and makes one call through the
# private RPC client (module/Private/Rpc.ps1); the daemon does the work.
Set-StrictMode -Version 3.0

foreach ($folder in @('Private', 'Public')) {
    $files = Get-ChildItem -Path (Join-Path $PSScriptRoot $folder) -Filter '*.ps1' | Sort-Object Name
    foreach ($file in $files) {
        . $file.FullName
    }
}

# The method names and the error table generated from the TypeScript protocol (npm run build).
$script:AzsProtocol = Get-Content -Raw -LiteralPath (Join-Path $PSScriptRoot 'Private/AzsProtocol.json') |
    ConvertFrom-Json
$script:AzsManifestPath = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../AzureStackBackup.psd1'))
$script:AzsCliPath = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../dist/src/cli/main.js'))

$publicNames = Get-ChildItem -Path (Join-Path $PSScriptRoot 'Public') -Filter '*.ps1' |
    ForEach-Object { $_.BaseName }
Export-ModuleMember -Function $publicNames
