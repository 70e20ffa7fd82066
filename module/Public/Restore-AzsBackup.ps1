function Restore-AzsBackup {
    <#
    .SYNOPSIS
    Restores infrastructure roles from a backup on the external store.

    .DESCRIPTION
    Restores every role recorded in a backup, or one role with -RoleName, through the role's
    provider: a Directory role's tree byte for byte, a Sqlite role's database, a PowerShell role
    through its RestoreScript. The roles' registrations come back too, so a fresh deployment that
    only knows the store learns its roles from the backup (cloud recovery).

    The whole selection is verified first: every stored byte against the manifest, every chunk
    decrypted and authenticated, every file's hash. When anything fails verification nothing is
    restored and the cmdlet fails with AzsBackup.BackupCorrupt, naming the role and the file; run
    Test-AzsBackup for the details and restore an earlier backup. Each role's data is written beside
    the current data and swapped in when complete, so a role is never left half old, half new.

    Restoring replaces the current data of the roles, so the cmdlet asks for confirmation
    (ConfirmImpact High) unless you add -Force or -Confirm:$false. In a host that cannot ask
    (pwsh -NonInteractive, a scheduled task) a restore without -Force fails with
    AzsBackup.ConfirmationRequired before anything is touched.

    Decryption needs the .pfx of the certificate the backup was encrypted for, and its password.
    They are used by the local daemon for this restore only, and never stored. Only one backup or
    restore runs at a time (AzsBackup.BackupAlreadyRunning otherwise). Stopping the cmdlet (Ctrl+C)
    while it waits cancels the restore; roles already restored stay restored.

    Errors: AzsBackup.BackupNotFound (no such backup), AzsBackup.RoleNotFound (the backup has no such
    role), AzsBackup.CertificateNotFound (the .pfx cannot be read), AzsBackup.DecryptionFailed (wrong
    password), AzsBackup.DecryptionCertificateMismatch (a .pfx of another certificate; the message
    names the thumbprint the backup needs), AzsBackup.BackupCorrupt, AzsBackup.BackupAlreadyRunning.

    .PARAMETER Name
    The backup to restore: its BackupId, or location/id as in its Name property. A wildcard is
    allowed when it matches exactly one backup.

    .PARAMETER InputObject
    The backup to restore, piped in: a Backup from Get-AzsBackup, any object with a BackupId or Name
    property (such as a row of Import-Csv), or a backup id string.

    .PARAMETER DecryptionCertPath
    The .pfx file of the encryption certificate the backup was made with. A relative path is resolved
    against the current location.

    .PARAMETER DecryptionCertPassword
    The password of the .pfx, as a SecureString.

    .PARAMETER RoleName
    Restores only this role of the backup. Without it every role in the backup is restored.

    .PARAMETER Force
    Restores without asking for confirmation, also in a non-interactive host.

    .PARAMETER AsJob
    Runs the restore as a background job and returns the job; confirmation is asked (or skipped with
    -Force) before the job starts. With -PassThru the job's Output holds $true.

    .PARAMETER NoWait
    Returns as soon as the daemon has accepted the restore, which then goes on without the cmdlet.
    Errors found later (a wrong password, a corrupted backup) go to the daemon's log and job history
    (azsbackup jobs --json), not to this cmdlet.

    .PARAMETER PassThru
    Returns $true when the restore has completed (with -NoWait: when it has started).

    .PARAMETER WhatIf
    Shows which backup and roles would be restored, without restoring or verifying anything.

    .PARAMETER Confirm
    Asks for confirmation before restoring; this is the default. -Confirm:$false restores without
    asking, as -Force does.

    .EXAMPLE
    $password = Read-Host -AsSecureString -Prompt 'Password of backup.pfx'
    Restore-AzsBackup -Name 7d4c2b1e-3f0a-4c55-9e2d-0b6a1f8c9d10 -DecryptionCertPath ./backup.pfx -DecryptionCertPassword $password

    Restores every role of the backup after asking for confirmation, showing the verification and
    then each role's restore as progress bars.

    .EXAMPLE
    Get-AzsBackup | Where-Object IsCloudRecoveryReady | Select-Object -First 1 | Restore-AzsBackup -DecryptionCertPath /secure/backup.pfx -DecryptionCertPassword $password -Force

    Cloud recovery on a fresh deployment: restores the newest complete backup found on the
    configured store, without confirmation.

    .EXAMPLE
    Restore-AzsBackup -Name $backupId -RoleName KeyVaultDataPlane -DecryptionCertPath ./backup.pfx -DecryptionCertPassword $password -Force -PassThru

    Restores only the role KeyVaultDataPlane, leaves every other role as it is, and returns $true.

    .EXAMPLE
    $job = Restore-AzsBackup -Name $backupId -DecryptionCertPath ./backup.pfx -DecryptionCertPassword $password -Force -AsJob -PassThru
    Receive-Job -Job $job -Wait

    Restores in a background job; Receive-Job returns $true when it completes, or the restore's error.

    .INPUTS
    AzureStackBackup.Backup. You can pipe backups from Get-AzsBackup, or objects with a BackupId or
    Name property, to this cmdlet.

    .OUTPUTS
    None by default. System.Boolean ($true) with -PassThru. With -AsJob, a job.

    .LINK
    Test-AzsBackup

    .LINK
    Get-AzsBackup

    .LINK
    New-AzsBackupEncryptionCertificate
    #>
    # InputObject is the default set so that anything piped binds to it: a Backup, any object with a
    # BackupId or Name property (read by Get-AzsBackupName), or an id string.
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High', DefaultParameterSetName = 'InputObject')]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory, Position = 0, ParameterSetName = 'Name')]
        [Alias('BackupId')]
        [SupportsWildcards()]
        [string] $Name,

        [Parameter(Mandatory, ParameterSetName = 'InputObject', ValueFromPipeline)]
        [psobject] $InputObject,

        [Parameter(Mandatory)]
        [string] $DecryptionCertPath,

        [Parameter(Mandatory)]
        [System.Security.SecureString] $DecryptionCertPassword,

        [string] $RoleName,

        [switch] $Force,

        [switch] $AsJob,

        [switch] $NoWait,

        [switch] $PassThru
    )

    process {
        $backupName = $Name
        if ($PSCmdlet.ParameterSetName -eq 'InputObject') { $backupName = Get-AzsBackupName -Cmdlet $PSCmdlet -InputObject $InputObject }
        $certificatePath = Resolve-AzsPath -Cmdlet $PSCmdlet -Path $DecryptionCertPath

        if ($Force -and -not $PSBoundParameters.ContainsKey('Confirm')) { $ConfirmPreference = 'None' }
        $what = 'Restore every role of the backup, replacing their current data'
        if ($RoleName) { $what = "Restore the role '$RoleName' from the backup, replacing its current data" }
        if (-not (Test-AzsShouldProcess -Cmdlet $PSCmdlet -Target "backup '$backupName'" -Action $what)) { return }
        if ($AsJob) {
            $arguments = @{} + $PSBoundParameters
            $arguments.Remove('InputObject')
            $arguments.Name = $backupName
            $arguments.DecryptionCertPath = $certificatePath
            return Start-AzsCommandJob -Cmdlet $PSCmdlet -BoundParameters $arguments
        }

        $request = [ordered]@{
            Name                   = $backupName
            DecryptionCertPath     = $certificatePath
            DecryptionCertPassword = $DecryptionCertPassword
            Wait                   = -not $NoWait
        }
        if ($RoleName) { $request.RoleName = $RoleName }
        $progressState = New-AzsProgressState -Activity 'Restoring infrastructure roles'
        try {
            $answer = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'backup.restore' -Params $request -OnProgress {
                param($Update)
                Write-AzsProgress -State $progressState -Update $Update
            }
        } finally {
            Complete-AzsProgress -State $progressState
        }
        if (-not $NoWait) { Write-Verbose "Restored from backup $($answer.BackupId): $(@($answer.RestoredRoles) -join ', ')" }
        if ($PassThru) { $true }
    }
}
