function Start-AzsBackup {
    <#
    .SYNOPSIS
    Starts a backup of every registered infrastructure role.

    .DESCRIPTION
    Takes one coordinated, full backup of every registered role: each role's data is captured,
    compressed, encrypted for the configured certificate and exported to the external store.
    While it waits the cmdlet shows a progress bar per role, and it returns the finished Backup; one
    failed role gives the Status PartialSucceeded, not a lost backup. Such a backup is not ready for
    cloud recovery: the cmdlet writes one warning per failed role (its name and error) and the
    daemon raises an alert naming each failed role with its remediation (Get-AzsBackupAlert), which
    stays open until a backup succeeds for every role. With -ErrorOnFailure the cmdlet also ends with
    a terminating error (AzsBackup.RoleFailed, OperationStopped) after returning the Backup, so that
    a scheduled `pwsh -NonInteractive -Command` exits with 1. A backup that fails as a whole is always
    a terminating error.

    Only one backup or restore runs at a time: starting a second one fails at once with
    AzsBackup.BackupAlreadyRunning. Stopping the cmdlet (Ctrl+C) while it waits cancels the backup.
    With -NoWait the cmdlet returns the running Backup at once and the backup goes on in the daemon;
    with -AsJob it returns a job whose Output holds the finished Backup and whose Warning stream
    the failed roles; with -AsJob -ErrorOnFailure a PartialSucceeded backup ends the job as Failed
    (its Output still holds the Backup, its Error the AzsBackup.RoleFailed error).

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

    .PARAMETER AsJob
    Runs the backup as a background job and returns the job ($job.Output.BackupId once it completes).

    .PARAMETER NoWait
    Returns the running Backup at once instead of waiting for the backup to end. Cannot be combined
    with -ErrorOnFailure: follow the backup with Get-AzsBackup and Get-AzsBackupAlert.

    .PARAMETER ErrorOnFailure
    Ends with a terminating error (AzsBackup.RoleFailed) when the backup is not Succeeded, after
    returning it: $? is $false and pwsh -Command exits with 1 when any role failed.

    .PARAMETER Force
    Starts without asking for confirmation.

    .PARAMETER WhatIf
    Shows what would happen without starting a backup.

    .PARAMETER Confirm
    Asks for confirmation before starting the backup.

    .EXAMPLE
    Start-AzsBackup

    Backs up every registered role, showing progress, and returns the Backup.

    .EXAMPLE
    $job = Start-AzsBackup -AsJob -Force
    $job | Wait-Job | Out-Null
    $job.Output.BackupId

    Runs the backup as a job, as Microsoft's published scripts do, and reads the new backup's id.

    .EXAMPLE
    pwsh -NonInteractive -Command "Import-Module AzureStackBackup; Start-AzsBackup -Force -ErrorOnFailure"

    In a scheduled task: exits with 1, with a warning per failed role and the error on stderr, when
    any role was not backed up.

    .EXAMPLE
    Start-AzsBackup -NoWait -Force | Select-Object BackupId, Status

    Starts a backup and returns at once; follow it with Get-AzsBackup.

    .INPUTS
    System.Management.Automation.PSObject. An Azs.Backup.Admin identity object (see -InputObject).

    .OUTPUTS
    AzureStackBackup.Backup. With -AsJob, a job.

    .LINK
    Get-AzsBackup

    .LINK
    Set-AzsBackupConfiguration
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium', DefaultParameterSetName = 'Wait')]
    [OutputType('AzureStackBackup.Backup')]
    param(
        [string] $Location,

        [string] $ResourceGroupName,

        [string] $SubscriptionId,

        [Parameter(ValueFromPipeline)]
        [psobject] $InputObject,

        [switch] $AsJob,

        [Parameter(ParameterSetName = 'NoWait')]
        [switch] $NoWait,

        [Parameter(ParameterSetName = 'Wait')]
        [switch] $ErrorOnFailure,

        [switch] $Force
    )

    Assert-AzsAdminScope -Cmdlet $PSCmdlet -BoundParameters $PSBoundParameters -InputObjectIsIdentity
    if ($Force) { $ConfirmPreference = 'None' }
    $target = "deployment in '$(Get-AzsStateDirectory)'"
    if (-not $PSCmdlet.ShouldProcess($target, 'Start a backup of every registered infrastructure role')) { return }
    if ($AsJob) { return Start-AzsCommandJob -Cmdlet $PSCmdlet -BoundParameters $PSBoundParameters }

    $progressState = New-AzsProgressState -Activity 'Backing up infrastructure roles'
    try {
        $backup = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'backup.start' -Params @{ Wait = -not $NoWait } -OnProgress {
            param($Update)
            Write-AzsProgress -State $progressState -Update $Update
        }
    } finally {
        Complete-AzsProgress -State $progressState
    }
    ConvertTo-AzsObject -InputObject $backup -Type 'Backup'
    if (-not $NoWait) { Write-AzsBackupOutcome -Cmdlet $PSCmdlet -Backup $backup -ErrorOnFailure:$ErrorOnFailure }
}
