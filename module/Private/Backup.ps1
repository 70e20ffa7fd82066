# Start-AzsBackup's report of a finished backup: a role that failed is never silent.

function Write-AzsBackupOutcome {
    <#
    One warning per role the backup did not store (its name and error); with -ErrorOnFailure, a
    terminating AzsBackup.RoleFailed when the backup is not Succeeded, so that pwsh -Command exits 1.
    A backup that failed as a whole already ended the cmdlet with the daemon's error.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [psobject] $Backup,
        [switch] $ErrorOnFailure
    )

    $failed = @($Backup.RoleStatus | Where-Object { $_.Status -ne 'Succeeded' })
    foreach ($role in $failed) {
        $Cmdlet.WriteWarning("Role $($role.RoleName) was not backed up: $($role.ErrorMessage)")
    }
    if (-not $ErrorOnFailure -or $Backup.Status -eq 'Succeeded') { return }
    $names = ($failed | ForEach-Object { $_.RoleName }) -join ', '
    $Cmdlet.ThrowTerminatingError((New-AzsErrorRecord -Reason 'RoleFailed' -Target $Backup.BackupId -Message (
                "Backup $($Backup.BackupId) is $($Backup.Status): role(s) $names failed, so it is not ready for cloud recovery. " +
                'Get-AzsBackupAlert shows each role''s remediation; fix them, then run Start-AzsBackup again.')))
}
