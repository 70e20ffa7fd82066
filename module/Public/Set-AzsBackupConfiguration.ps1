function Set-AzsBackupConfiguration {
    <#
    .SYNOPSIS
    Sets the backup configuration: the external store, its credentials, the encryption certificate and the schedule.

    .DESCRIPTION
    Validates the given settings and saves them. Only the parameters you give change; every other
    setting keeps its saved value. Before anything is saved the engine reaches the store,
    authenticates, writes, reads and deletes a probe file (a blob, in a container), and reads the
    certificate and checks its expiry: when any check fails nothing is saved and the error says what
    failed and how to fix it.

    Out-of-range values fail with the error id AzsBackup.InvalidRange and a message that names both
    bounds. A certificate that expires within 30 days is saved with a warning; an expired one is
    refused (AzsBackup.CertificateExpired).

    A BackupLocation object (from Get-AzsBackupConfiguration, or any object with the same property
    names) can be piped in: its non-null properties are saved, its $null properties keep their saved
    values, and its Password is always ignored. Parameters given on the command line win over the
    piped object's properties.

    The password is sent to the local daemon only, and kept there sealed; it is never written in
    clear text or returned.

    .PARAMETER Path
    The external store: an SMB share (\\server\share\folder, \\server:4455\share), a local or
    mounted folder, or an Azure Blob Storage container given by its URL:
    https://<account>.blob.core.windows.net/<container>[/<prefix>] on Azure,
    https://<account>.blob.<region>.<fqdn>/<container>[/<prefix>] on Azure Stack Hub, or any http(s)
    endpoint that speaks the blob API (an IP address or localhost as host puts the account in the
    path, as Azurite does: http://127.0.0.1:10000/<account>/<container>). The folder or container
    must exist; backups go under the prefix when one is given. A URL with a query (a SAS token pasted
    into the path) is refused with AzsBackup.InvalidParameter: give the SAS token as -Password. A
    relative folder path is resolved against the current location. BackupShare is an alias.

    .PARAMETER UserName
    For a share, the account that reaches it: DOMAIN\user, user@domain or user. For a blob container
    with an account key, the storage account's name (without it, the account the URL names); with a
    SAS token it is not used. An empty string removes the saved user name.

    .PARAMETER Password
    For a share, the password of UserName; for a blob container, a SAS token for the container (with
    or without its leading ?, with read, add, create, write, delete and list permissions, sp=racwdl)
    or the storage account's key. Always a SecureString. An empty SecureString removes the saved
    password.

    .PARAMETER Credential
    UserName and Password in one PSCredential, as a convenience (for a blob container: the account
    name and its key).

    .PARAMETER EncryptionCertPath
    The public encryption certificate: a .cer file in DER or Base-64 (PEM) encoding. A file that holds
    a private key (a .pfx) is refused. A relative path is resolved against the current location.

    .PARAMETER BackupFrequencyInHours
    Hours between two scheduled backups, from 4 to 12. The default is 12.

    .PARAMETER BackupRetentionPeriodInDays
    Days a backup is kept on the store, from 2 to 14. The default is 7.

    .PARAMETER IsBackupSchedulerEnabled
    Switches scheduled backups on; -IsBackupSchedulerEnabled:$false switches them off and keeps the
    schedule.

    .PARAMETER RequireEncryption
    Refuses an SMB session without SMB encryption, and a blob container URL that is plain http://;
    -RequireEncryption:$false allows them.

    .PARAMETER MetricsPath
    The folder where the daemon writes azsbackup.prom, its metrics for Prometheus's textfile
    collector (node_exporter --collector.textfile.directory), after every job, alert change and
    configuration change. Give the full path of an existing folder (not a symbolic link) that the
    daemon can create and rename files in; anything else fails with AzsBackup.InvalidParameter and
    nothing is saved. An empty string stops writing and removes the file from the folder named before.
    See docs/notifications.md.

    .PARAMETER Backup
    A BackupLocation, usually piped from Get-AzsBackupConfiguration. Its $null properties and its
    Password keep the saved values. Alias -InputObject, its name in Azs.Backup.Admin 0.x.

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

    .PARAMETER AsJob
    Runs the command as a background job and returns the job; its Output holds the BackupLocation.

    .PARAMETER Force
    Runs without asking for confirmation.

    .PARAMETER WhatIf
    Shows what would change without saving anything.

    .PARAMETER Confirm
    Asks for confirmation before saving.

    .EXAMPLE
    Set-AzsBackupConfiguration -Path '\\fileserver\backups\stamp1' -Credential (Get-Credential 'CONTOSO\backupadmin') -EncryptionCertPath ./backup.cer

    Configures an SMB share as the external store with its account and the encryption certificate.

    .EXAMPLE
    $sas = Read-Host -AsSecureString -Prompt 'SAS token for the container'
    Set-AzsBackupConfiguration -Path 'https://contosobackups.blob.core.windows.net/azs-backups/stamp1' -Password $sas -RequireEncryption -EncryptionCertPath ./backup.cer

    Configures a container in Azure Blob Storage, with the backups under the prefix stamp1, reached
    with a SAS token for the container (sp=racwdl); -RequireEncryption refuses any http:// URL.

    .EXAMPLE
    $key = Read-Host -AsSecureString -Prompt 'Storage account key'
    Set-AzsBackupConfiguration -Path 'https://backupacct.blob.local.azurestack.external/azs-backups' -UserName 'backupacct' -Password $key -EncryptionCertPath ./backup.cer

    Configures a container on an Azure Stack Hub's blob endpoint (region local, external domain
    azurestack.external), reached with the storage account's name and key.

    .EXAMPLE
    Set-AzsBackupConfiguration -BackupFrequencyInHours 6 -BackupRetentionPeriodInDays 14

    Backs up every six hours and keeps backups for two weeks; all other settings stay as they are.

    .EXAMPLE
    Set-AzsBackupConfiguration -IsBackupSchedulerEnabled:$false -Force

    Switches scheduled backups off without asking for confirmation.

    .EXAMPLE
    Set-AzsBackupConfiguration -MetricsPath /var/lib/prometheus/node-exporter

    Writes the backup metrics to /var/lib/prometheus/node-exporter/azsbackup.prom, where node_exporter's
    textfile collector reads them; -MetricsPath '' stops writing them and removes the file.

    .EXAMPLE
    Get-AzsBackupConfiguration | Set-AzsBackupConfiguration -WhatIf

    Shows what saving the current configuration again would do.

    .INPUTS
    AzureStackBackup.BackupLocation. You can pipe a BackupLocation to this cmdlet.

    .OUTPUTS
    AzureStackBackup.BackupLocation. The saved configuration. With -AsJob, a job.

    .LINK
    Get-AzsBackupConfiguration

    .LINK
    New-AzsBackupEncryptionCertificate
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium', DefaultParameterSetName = 'UserName')]
    [OutputType('AzureStackBackup.BackupLocation')]
    param(
        [Alias('BackupShare')]
        [string] $Path,

        [Parameter(ParameterSetName = 'UserName')]
        [string] $UserName,

        [Parameter(ParameterSetName = 'UserName')]
        [System.Security.SecureString] $Password,

        [Parameter(Mandatory, ParameterSetName = 'Credential')]
        [System.Management.Automation.PSCredential]
        [System.Management.Automation.Credential()]
        $Credential,

        [string] $EncryptionCertPath,

        [int] $BackupFrequencyInHours,

        [int] $BackupRetentionPeriodInDays,

        [switch] $IsBackupSchedulerEnabled,

        [switch] $RequireEncryption,

        [string] $MetricsPath,

        [Parameter(ValueFromPipeline)]
        [Alias('InputObject')]
        [psobject] $Backup,

        [string] $Location,

        [string] $ResourceGroupName,

        [string] $SubscriptionId,

        [switch] $AsJob,

        [switch] $Force
    )

    begin {
        Assert-AzsAdminScope -Cmdlet $PSCmdlet -BoundParameters $PSBoundParameters
    }

    process {
        foreach ($name in @('Path', 'EncryptionCertPath')) {
            if ($PSBoundParameters.ContainsKey($name)) {
                $PSBoundParameters[$name] = Resolve-AzsPath -Cmdlet $PSCmdlet -Path $PSBoundParameters[$name]
            }
        }
        $change = Get-AzsConfigurationChange -Cmdlet $PSCmdlet -BoundParameters $PSBoundParameters
        if ($Force) { $ConfirmPreference = 'None' }
        $target = "backup configuration in '$(Get-AzsStateDirectory)'"
        if (-not $PSCmdlet.ShouldProcess($target, "Set $(Format-AzsChange -Change $change)")) { return }
        if ($AsJob) { return Start-AzsCommandJob -Cmdlet $PSCmdlet -BoundParameters $PSBoundParameters }

        $answer = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'config.set' -Params $change
        foreach ($warning in @($answer.warnings)) { Write-Warning -Message $warning }
        ConvertTo-AzsObject -InputObject $answer.location -Type 'BackupLocation'
    }
}
