function Get-AzsBackupConfiguration {
    <#
    .SYNOPSIS
    Gets the backup configuration of the deployment.

    .DESCRIPTION
    Gets the backup configuration: the external store (Path, UserName, RequireEncryption), the
    thumbprint and expiry of the encryption certificate, the schedule (BackupFrequencyInHours,
    BackupRetentionPeriodInDays, IsBackupSchedulerEnabled), the capacity left on the store, the
    last and next backup times, and the folder of the metrics file for Prometheus (MetricsPath).

    Before the first configuration it returns the defaults with Path set to $null, and no error.
    Password is always $null: the saved password is never returned. Warnings from the engine (for
    example a certificate that expires soon) are written to the warning stream. When the store cannot
    be read (its folder is missing, the server is down, the logon fails), AvailableCapacity is $null
    and a warning says why; -WarningVariable keeps it for a script.

    The cmdlet starts the AzureStackBackup daemon of the state folder ($env:AZSBACKUP_HOME, or the
    per-user default) when it is not running.

    .PARAMETER Location
    For scripts written for Azs.Backup.Admin: the deployment's location (the Location of its
    backups, 'local' unless chosen at first start). Any other location fails with
    AzsBackup.LocationMismatch before anything is done.

    .PARAMETER ResourceGroupName
    For scripts written for Azs.Backup.Admin: accepted and ignored (a verbose message says so); the
    cmdlet acts on the deployment of its state folder.

    .PARAMETER SubscriptionId
    For scripts written for Azs.Backup.Admin: accepted and ignored (a verbose message says so); the
    cmdlet acts on the deployment of its state folder.

    .PARAMETER InputObject
    For scripts written for Azs.Backup.Admin: an identity object, piped or given. Its Location, if
    any, is checked as -Location is; its ResourceGroupName and SubscriptionId are ignored.

    .EXAMPLE
    Get-AzsBackupConfiguration

    Shows the current backup configuration.

    .EXAMPLE
    (Get-AzsBackupConfiguration).EncryptionCertExpiry - [datetime]::UtcNow

    Shows how long the encryption certificate stays valid.

    .EXAMPLE
    Get-AzsBackupConfiguration | Set-AzsBackupConfiguration -BackupFrequencyInHours 6

    Saves the current configuration again with a new backup frequency; the other values are kept.

    .INPUTS
    System.Management.Automation.PSObject. An Azs.Backup.Admin identity object (see -InputObject).

    .OUTPUTS
    AzureStackBackup.BackupLocation. Path, UserName, Password (always $null), RequireEncryption,
    EncryptionCertThumbprint, EncryptionCertExpiry, BackupFrequencyInHours,
    BackupRetentionPeriodInDays, IsBackupSchedulerEnabled, AvailableCapacity, NextBackupTime,
    LastBackupTime and MetricsPath ($null when no metrics file is written). EncryptionCertExpiry, NextBackupTime and LastBackupTime are UTC DateTime
    values, or $null.

    .LINK
    Set-AzsBackupConfiguration
    #>
    [CmdletBinding()]
    [OutputType('AzureStackBackup.BackupLocation')]
    param(
        [Parameter(ValueFromPipeline)]
        [psobject] $InputObject,

        [string] $Location,

        [string] $ResourceGroupName,

        [string] $SubscriptionId
    )

    Assert-AzsAdminScope -Cmdlet $PSCmdlet -BoundParameters $PSBoundParameters -InputObjectIsIdentity
    $answer = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'config.get'
    foreach ($warning in @($answer.warnings)) { Write-Warning -Message $warning }
    ConvertTo-AzsObject -InputObject $answer.location -Type 'BackupLocation'
}
