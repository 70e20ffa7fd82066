@{
    RootModule           = 'module/AzureStackBackup.psm1'
    ModuleVersion        = '0.1.0'
    GUID                 = '5b0f8d0e-3c2a-4f57-9a4e-1f6d2b7c9e31'
    Author               = 'AzureStackBackup contributors'
    CompanyName          = 'AzureStackBackup'
    Copyright            = '(c) AzureStackBackup contributors. MIT License.'
    Description          = 'Infrastructure backup for a private cloud''s control plane: configure the external store, back up and restore infrastructure roles. The cmdlets forward to the AzureStackBackup daemon over its local socket.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Core', 'Desktop')
    TypesToProcess       = @('module/AzureStackBackup.Types.ps1xml')
    FormatsToProcess     = @('module/AzureStackBackup.Format.ps1xml')
    FunctionsToExport    = @(
        'Add-AzsBackupNotificationTarget'
        'Get-AzsBackup'
        'Get-AzsBackupAlert'
        'Get-AzsBackupJob'
        'Get-AzsBackupNotificationTarget'
        'Get-AzsBackupReport'
        'Get-AzsBackupConfiguration'
        'Get-AzsInfrastructureRole'
        'Invoke-AzsPruneBackupLocationExternalStore'
        'New-AzsBackupEncryptionCertificate'
        'Register-AzsInfrastructureRole'
        'Remove-AzsBackupNotificationTarget'
        'Restore-AzsBackup'
        'Set-AzsBackupConfiguration'
        'Start-AzsBackup'
        'Test-AzsBackup'
        'Test-AzsBackupNotificationTarget'
        'Test-AzsBackupShareAccessibility'
        'Unregister-AzsInfrastructureRole'
    )
    CmdletsToExport      = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('Backup', 'AzureStack', 'Infrastructure', 'PSEdition_Core', 'PSEdition_Desktop')
            LicenseUri = 'https://opensource.org/licenses/MIT'
        }
    }
}
