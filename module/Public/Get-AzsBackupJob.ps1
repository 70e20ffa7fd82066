function Get-AzsBackupJob {
    <#
    .SYNOPSIS
    Gets the backup, restore and prune jobs the daemon ran, newest first, failed and cancelled ones too.

    .DESCRIPTION
    Gets the job history of the deployment, newest first: every backup (scheduled or started by
    hand), restore and prune the daemon ran, with its Outcome (Running, Succeeded, PartialSucceeded,
    Failed, Skipped or Cancelled), its start and end times (UTC), its error, and the outcome of each
    role. Get-AzsBackup lists only the backups that are on the store; a backup that failed or was
    cancelled left nothing there, and shows only here.

    A job that has ended never lists a role as Queued or Running: a role still under way when its
    job failed, was cancelled (Ctrl+C, Stop-Job) or was cut short by a daemon crash is Failed, with
    the job's error.

    The history is the daemon's own (in its state folder), the same that azsbackup jobs --json
    prints.

    .PARAMETER Outcome
    Gets only the jobs with one of these outcomes: Running, Succeeded, PartialSucceeded, Failed,
    Skipped, Cancelled. Without it jobs of every outcome are returned.

    .PARAMETER Kind
    Gets only the jobs of these kinds: Backup, Restore, Prune. Without it every kind is returned.

    .PARAMETER Top
    Returns at most this many jobs: the newest of those -Outcome and -Kind select.

    .EXAMPLE
    Get-AzsBackupJob -Outcome Failed, PartialSucceeded, Cancelled -Top 10

    Shows the ten most recent jobs that did not fully succeed, with their errors.

    .EXAMPLE
    Get-AzsBackupJob -Kind Backup -Top 1 | Select-Object -ExpandProperty Roles

    Shows how each role fared in the newest backup job, whether or not the backup was kept.

    .EXAMPLE
    Get-AzsBackupJob -Kind Backup -Outcome Succeeded -Top 1 | Select-Object -ExpandProperty RoleMeasures

    Shows what each role stored in the newest good backup and how long it took.

    .EXAMPLE
    Get-AzsBackupJob -Kind Restore | Format-List

    Shows every restore with each role's outcome and error.

    .INPUTS
    None. You cannot pipe objects to this cmdlet.

    .OUTPUTS
    AzureStackBackup.BackupJob. JobId, Kind, BackupId, IsAutomatic, StartTime and EndTime (UTC),
    Outcome, ErrorMessage, Roles (AzureStackBackup.RoleStatus entries), and for a backup that stored
    data SourceBytes, StoredBytes and RoleMeasures (AzureStackBackup.RoleMeasure entries: RoleName,
    SourceBytes, StoredBytes, DurationSeconds of each stored role).

    .LINK
    Get-AzsBackup

    .LINK
    Start-AzsBackup

    .LINK
    Restore-AzsBackup
    #>
    [CmdletBinding()]
    [OutputType('AzureStackBackup.BackupJob')]
    param(
        [ValidateSet('Running', 'Succeeded', 'PartialSucceeded', 'Failed', 'Skipped', 'Cancelled')]
        [string[]] $Outcome,

        [ValidateSet('Backup', 'Restore', 'Prune')]
        [string[]] $Kind,

        [int] $Top
    )

    $request = [ordered]@{}
    if ($Outcome) { $request.Outcome = @($Outcome) }
    if ($Kind) { $request.Kind = @($Kind) }
    if ($PSBoundParameters.ContainsKey('Top')) { $request.Top = $Top }
    $answer = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'job.list' -Params $request
    foreach ($job in @($answer.jobs)) { ConvertTo-AzsObject -InputObject $job -Type 'BackupJob' }
}
