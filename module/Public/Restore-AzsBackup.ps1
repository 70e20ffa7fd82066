function Restore-AzsBackup {
    <#
    .SYNOPSIS
    Restores infrastructure roles from a backup on the external store.

    .DESCRIPTION
    Restores every role recorded in a backup, or the roles -RoleName names, through the role's
    provider: a Directory role's tree byte for byte, a Sqlite role's database, a PowerShell role
    through its RestoreScript. A role this deployment has not registered is registered from the
    backup, so a fresh deployment that only knows the store learns its roles from the backup (cloud
    recovery).

    The backup share is not trusted. A backup this deployment did not write (IsKnownToDeployment is
    False in Get-AzsBackup: a backup of another deployment, a cloud recovery into a fresh one, or one
    planted on the share) restores a role only through a registration this deployment already has
    (same name and provider). Any role whose registration would come from the backup (its path where
    data is written, its scripts that run as the daemon's account) needs -AcceptBackupRoles; without
    it the restore stops before anything is written (AzsBackup.RolesNotAccepted) and names each such
    role. -WhatIf and the confirmation list every role to restore with its provider, the path whose
    data it replaces, the SHA-256 of each script and where its registration comes from: review them,
    then accept.

    Each role is read once and verified as it is read: every stored byte against the manifest, every
    chunk decrypted and authenticated, every entry checked, while the data is written beside the
    role; the role's data is replaced only once all of it verified. A role that fails verification
    is not restored and its current data is not touched; every role that verifies is restored (the outcome that
    keeps the most data: in a recovery, one damaged role does not cost the others). A role whose
    restore fails is reported the same way, and the next role is restored. Each role not restored
    is then a non-terminating error, written after the restore has ended: AzsBackup.BackupCorrupt
    for a role that failed verification (naming the role and the file; run Test-AzsBackup and
    restore that role from an earlier backup with -RoleName), the role's own error otherwise. So $?
    is $false, -ErrorAction Stop throws (the restored roles stay restored), pwsh -Command exits with
    1, and -PassThru returns $false. When no role at all can be restored the cmdlet fails with one
    terminating error that lists every role's failure. Each role's data is written beside the
    current data and swapped in when complete, so a role is never left half old, half new.
    Get-AzsBackupJob -Kind Restore shows every restore with each role's outcome.

    Restoring replaces the current data of the roles, so the cmdlet asks for confirmation
    (ConfirmImpact High) unless you add -Force or -Confirm:$false. In a host that cannot ask
    (pwsh -NonInteractive, a scheduled task) a restore without -Force fails with
    AzsBackup.ConfirmationRequired before anything is touched.

    Decryption needs the .pfx of the certificate the backup was encrypted for, and its password.
    They are used by the local daemon for this restore only, and never stored. Only one backup or
    restore runs at a time (AzsBackup.BackupAlreadyRunning otherwise). Stopping the cmdlet (Ctrl+C)
    while it waits cancels the restore; roles already restored stay restored.

    Errors: AzsBackup.BackupNotFound (no such backup), AzsBackup.RoleNotFound (the backup has no role
    of a name given to -RoleName; nothing is restored), AzsBackup.CertificateNotFound (the .pfx cannot be read), AzsBackup.DecryptionFailed (wrong
    password), AzsBackup.DecryptionCertificateMismatch (a .pfx of another certificate; the message
    names the thumbprint the backup needs), AzsBackup.BackupCorrupt (also when the backup's manifest
    does not authenticate with its key), AzsBackup.RolesNotAccepted (an unknown backup's roles need
    -AcceptBackupRoles), AzsBackup.BackupAlreadyRunning.

    .PARAMETER Name
    The backup to restore: its BackupId, or location/id as in its Name property. A wildcard is
    allowed when it matches exactly one backup.

    .PARAMETER InputObject
    The backup to restore, piped in: a Backup from Get-AzsBackup, any object with a BackupId or Name
    property (such as a row of Import-Csv), an Azs.Backup.Admin identity (its Backup property names
    the backup), or a backup id string.

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

    .PARAMETER DecryptionCertPath
    The .pfx file of the encryption certificate the backup was made with. A relative path is resolved
    against the current location.

    .PARAMETER DecryptionCertPassword
    The password of the .pfx, as a SecureString.

    .PARAMETER RoleName
    Restores only these roles of the backup (one name, or several: -RoleName CA, WAS). Without it
    every role in the backup is restored. A name the backup does not hold fails the whole restore
    with AzsBackup.RoleNotFound before anything is written.

    .PARAMETER AcceptBackupRoles
    Accepts the role registrations recorded in a backup this deployment did not write: roles not
    registered here (or registered with another provider) are registered from the backup, their data
    is written to the backup's paths and their scripts run. Needed for a cloud recovery into a fresh
    deployment. Run with -WhatIf first to see each role, its provider, path and the SHA-256 of its
    scripts. -Force does not imply it.

    .PARAMETER Force
    Restores without asking for confirmation, also in a non-interactive host. It does not accept the
    roles of a backup this deployment did not write: that takes -AcceptBackupRoles.

    .PARAMETER AsJob
    Runs the restore as a background job and returns the job; confirmation is asked (or skipped with
    -Force) before the job starts. With -PassThru the job's Output holds the -PassThru value; the
    error of each role not restored is in the job's Error stream.

    .PARAMETER NoWait
    Returns as soon as the daemon has accepted the restore, which then goes on without the cmdlet.
    Errors found later (a damaged role, a role whose restore fails) go to the daemon's log and job
    history (Get-AzsBackupJob -Kind Restore), not to this cmdlet; a wrong .pfx or password is still
    reported at once.

    .PARAMETER PassThru
    Returns $true when every role was restored, $false when some were not (each also written as an
    error); with -NoWait, $true when the restore has started.

    .PARAMETER WhatIf
    Shows which backup and roles would be restored (each with its provider, the path whose data it
    replaces, the SHA-256 of its scripts, and whether its registration comes from this deployment or
    from the backup), and
    whether the backup is known to this deployment, without restoring or verifying anything.

    .PARAMETER Confirm
    Asks for confirmation before restoring; this is the default. -Confirm:$false restores without
    asking, as -Force does.

    .EXAMPLE
    $password = Read-Host -AsSecureString -Prompt 'Password of backup.pfx'
    Restore-AzsBackup -Name 7d4c2b1e-3f0a-4c55-9e2d-0b6a1f8c9d10 -DecryptionCertPath ./backup.pfx -DecryptionCertPassword $password

    Restores every role of the backup after asking for confirmation, showing each role's restore
    (the stored megabytes read and verified) as a progress bar.

    .EXAMPLE
    $backup = Get-AzsBackup | Where-Object IsCloudRecoveryReady | Select-Object -First 1
    $backup | Restore-AzsBackup -DecryptionCertPath /secure/backup.pfx -DecryptionCertPassword $password -WhatIf
    $backup | Restore-AzsBackup -DecryptionCertPath /secure/backup.pfx -DecryptionCertPassword $password -AcceptBackupRoles -Force

    Cloud recovery into a fresh deployment: the newest complete backup on the configured store was
    written by the old deployment, so it is not known to this one. -WhatIf lists each role with its
    provider, path and the SHA-256 of its scripts; once they are the ones expected,
    -AcceptBackupRoles registers them from the backup and restores them, without confirmation.

    .EXAMPLE
    Restore-AzsBackup -Name $backupId -RoleName KeyVaultDataPlane, CA -DecryptionCertPath ./backup.pfx -DecryptionCertPassword $password -Force -PassThru

    Restores only the roles KeyVaultDataPlane and CA, leaves every other role as it is, and returns
    $true.

    .EXAMPLE
    Restore-AzsBackup -Name $backupId -DecryptionCertPath ./backup.pfx -DecryptionCertPassword $password -Force -ErrorVariable failed -ErrorAction SilentlyContinue
    $failed | ForEach-Object { $_.TargetObject }
    Get-AzsBackupJob -Kind Restore -Top 1 | Select-Object -ExpandProperty Roles

    Restores every role that verifies; for each role that was not restored an error names the role
    and why (here collected in $failed), and the restore's job lists each role's outcome.

    .EXAMPLE
    $job = Restore-AzsBackup -Name $backupId -DecryptionCertPath ./backup.pfx -DecryptionCertPassword $password -Force -AsJob -PassThru
    Receive-Job -Job $job -Wait

    Restores in a background job; Receive-Job returns $true when it completes, or the restore's error.

    .INPUTS
    AzureStackBackup.Backup. You can pipe backups from Get-AzsBackup, or objects with a BackupId or
    Name property, to this cmdlet.

    .OUTPUTS
    None by default. System.Boolean with -PassThru: $true when every role was restored, $false when
    some were not. With -AsJob, a job.

    .LINK
    Test-AzsBackup

    .LINK
    Get-AzsBackup

    .LINK
    Get-AzsBackupJob

    .LINK
    New-AzsBackupEncryptionCertificate
    #>
    # InputObject is the default set so that anything piped binds to it: a Backup, any object with a
    # BackupId or Name property (read by Get-AzsBackupName), or an id string.
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'High', DefaultParameterSetName = 'InputObject')]
    [OutputType([bool])]
    param(
        [string] $Location,

        [string] $ResourceGroupName,

        [string] $SubscriptionId,

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

        [string[]] $RoleName,

        [switch] $AcceptBackupRoles,

        [switch] $Force,

        [switch] $AsJob,

        [switch] $NoWait,

        [switch] $PassThru
    )

    begin {
        Assert-AzsAdminScope -Cmdlet $PSCmdlet -BoundParameters $PSBoundParameters
    }

    process {
        $backupName = $Name
        if ($PSCmdlet.ParameterSetName -eq 'InputObject') { $backupName = Get-AzsBackupName -Cmdlet $PSCmdlet -InputObject $InputObject }
        $certificatePath = Resolve-AzsPath -Cmdlet $PSCmdlet -Path $DecryptionCertPath

        if ($Force -and -not $PSBoundParameters.ContainsKey('Confirm')) { $ConfirmPreference = 'None' }
        $planRequest = [ordered]@{ Name = $backupName }
        if ($RoleName) { $planRequest.RoleName = @($RoleName) }
        $plan = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'backup.restorePlan' -Params $planRequest
        $what = Format-AzsRestorePlan -Plan $plan -Accepted:$AcceptBackupRoles
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
        if ($RoleName) { $request.RoleName = @($RoleName) }
        if ($AcceptBackupRoles) { $request.AcceptBackupRoles = $true }
        $progressState = New-AzsProgressState -Activity 'Restoring infrastructure roles'
        try {
            $answer = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'backup.restore' -Params $request -OnProgress {
                param($Update)
                Write-AzsProgress -State $progressState -Update $Update
            }
        } finally {
            Complete-AzsProgress -State $progressState
        }
        if ($NoWait) {
            if ($PassThru) { $true }
            return
        }
        $failures = @($answer.FailedRoles)
        Write-Verbose "Restored from backup $($answer.BackupId): $(@($answer.RestoredRoles) -join ', ')"
        # Written once the restore has ended, so that -ErrorAction Stop cannot cut it short.
        foreach ($failure in $failures) { Write-AzsRestoreFailure -Cmdlet $PSCmdlet -Failure $failure -Restored @($answer.RestoredRoles) }
        if ($PassThru) { $failures.Count -eq 0 }
    }
}
