<#
.SYNOPSIS
    The demo's PowerShell half: configure, register the sample roles, back up, list the backups.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)]
    [string] $Workspace
)
$ErrorActionPreference = 'Stop'
# Plain text when the output goes to a file or a pipe (CI logs), colours in a terminal.
if ([Console]::IsOutputRedirected -and $PSVersionTable.PSVersion.Major -ge 7) { $PSStyle.OutputRendering = 'PlainText' }
Import-Module (Join-Path (Split-Path $PSScriptRoot -Parent) 'AzureStackBackup.psd1') -Force

$data = Join-Path $Workspace 'data'
$certs = Join-Path $Workspace 'certs'

# The demo certificate's .pfx password lives only in this process: real operators keep theirs in a vault.
$pfxPassword = [securestring]::new()
foreach ($char in [guid]::NewGuid().ToString().ToCharArray()) { $pfxPassword.AppendChar($char) }
$certificate = New-AzsBackupEncryptionCertificate -CerPath (Join-Path $certs 'backup.cer') -PfxPath (Join-Path $certs 'backup.pfx') -PfxPassword $pfxPassword
Write-Host "Encryption certificate $($certificate.Thumbprint), valid until $($certificate.NotAfter)"

$null = Set-AzsBackupConfiguration -Path (Join-Path $Workspace 'store') -EncryptionCertPath $certificate.CerPath
Get-AzsBackupConfiguration | Format-List Path, EncryptionCertThumbprint, BackupFrequencyInHours, BackupRetentionPeriodInDays, IsBackupSchedulerEnabled, AvailableCapacity

$ece = Join-Path $data 'ECE'
$roles = @(
    @{ Name = 'Domain'; Provider = 'Sqlite'; Path = (Join-Path $data 'Domain/Domain.db') }
    @{ Name = 'WAS'; Provider = 'Sqlite'; Path = (Join-Path $data 'WAS/WAS.db') }
    @{ Name = 'KeyVaultDataPlane'; Provider = 'Directory'; Path = (Join-Path $data 'KeyVaultDataPlane') }
    @{ Name = 'CA'; Provider = 'Directory'; Path = (Join-Path $data 'CA') }
    @{
        Name          = 'ECE'
        Provider      = 'PowerShell'
        BackupScript  = [scriptblock]::Create("Copy-Item -Path (Join-Path '$ece' '*') -Destination `$StagingPath -Recurse")
        RestoreScript = [scriptblock]::Create("`$null = New-Item -ItemType Directory -Force -Path '$ece'; Copy-Item -Path (Join-Path `$StagingPath '*') -Destination '$ece' -Recurse -Force")
    }
)
foreach ($role in $roles) { $null = Register-AzsInfrastructureRole @role }
Get-AzsInfrastructureRole | Format-Table Name, Provider, Path

$backup = Start-AzsBackup -Force
Write-Host "Backup $($backup.BackupId) finished: $($backup.Status)"
Get-AzsBackup | Format-List BackupId, Name, Status, @{ Name = 'CreatedDateTime (UTC)'; Expression = { $_.CreatedDateTime } }, TimeTakenToCreate, BackupSizeInKb, CompressedBackupSizeInKb, IsCloudRecoveryReady, EncryptionCertThumbprint
$backup.RoleStatus | Format-Table RoleName, Status, ErrorMessage
if ($backup.Status -ne 'Succeeded') { exit 1 }
