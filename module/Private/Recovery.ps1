# Restore-AzsBackup and Test-AzsBackup: the piped backup as the name the daemon looks up, what a
# restore would do as the confirmation text, and a failed role as an ErrorRecord.

function Get-AzsBackupName {
    <#
    The BackupId (else the Name) of a piped backup, or the Backup of an Azs.Backup.Admin identity
    (its -InputObject of Restore-AzsBackup); a piped string is the name itself.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [psobject] $InputObject
    )

    if ($InputObject -is [string]) { return [string]$InputObject }
    foreach ($property in 'BackupId', 'Name', 'Backup') {
        $value = Get-AzsProperty -InputObject $InputObject -Name $property
        if ($value) { return [string]$value }
    }
    $Cmdlet.ThrowTerminatingError((New-AzsErrorRecord -Reason 'InvalidParameter' -Parameter 'InputObject' -Target $InputObject -Message (
                '-InputObject takes a Backup (an object with a BackupId or Name property), such as the ones Get-AzsBackup returns. ' +
                'Pipe Get-AzsBackup into the command, or give the backup id with -Name.')))
}

function Write-AzsTestFailure {
    <# Test-AzsBackup -ErrorOnFailure: a non-terminating AzsBackup.BackupCorrupt for one failed BackupTestResult. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [psobject] $Result
    )

    $detail = ([string]$Result.ErrorMessage).TrimEnd('.')
    if ($Result.File -and -not $detail.Contains([string]$Result.File)) { $detail = "$($Result.File): $detail" }
    $target = $Result.File
    if (-not $target) { $target = $Result.RoleName }
    $Cmdlet.WriteError((New-AzsErrorRecord -Reason 'BackupCorrupt' -Target $target -Message (
                "Backup $($Result.BackupId) failed verification in role $($Result.RoleName): $detail. " +
                'Restore-AzsBackup refuses this backup: restore an earlier one that passes Test-AzsBackup, and check the store for damage.')))
}

function Write-AzsRestoreFailure {
    <#
    Restore-AzsBackup: a non-terminating error for one role the restore did not restore (a
    RestoreRoleFailure), with the role's own reason, naming the roles that were restored.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [psobject] $Failure,
        [AllowEmptyCollection()] [string[]] $Restored = @()
    )

    $target = $Failure.File
    if (-not $target) { $target = $Failure.RoleName }
    $message = "$($Failure.ErrorMessage) Restored: $($Restored -join ', ')."
    $Cmdlet.WriteError((New-AzsErrorRecord -Reason $Failure.Reason -Target $target -Message $message))
}

function Format-AzsRestorePlan {
    <#
    The ShouldProcess action for a restore (backup.restorePlan): whether the backup is known to this
    deployment, then one line per role with its provider, the path whose data it replaces (a
    PowerShell role's RestoreScript decides where its data goes), the SHA-256 of each script, and
    whose registration is used.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [psobject] $Plan,
        [switch] $Accepted
    )

    $roles = @($Plan.Roles)
    $known = 'a backup known to this deployment'
    if (-not $Plan.IsKnownToDeployment) { $known = 'a backup NOT known to this deployment (this deployment did not write it, or it changed on the store)' }
    $lines = @("Restore $($roles.Count) role(s) from $known, replacing their current data (a role that fails verification is not restored; the others are):")
    foreach ($role in $roles) {
        $facts = @($role.Provider)
        if ($role.Path) { $facts += "replaces path '$($role.Path)'" } else { $facts += 'restored by its RestoreScript' }
        if ($role.BackupScriptSha256) { $facts += "BackupScript SHA-256 $($role.BackupScriptSha256)" }
        if ($role.RestoreScriptSha256) { $facts += "RestoreScript SHA-256 $($role.RestoreScriptSha256)" }
        $source = 'registered on this deployment'
        if ($role.Registration -eq 'Backup') { $source = 'registration taken from the backup' }
        if ($role.RequiresAcceptance) {
            if ($Accepted) { $source += ', accepted with -AcceptBackupRoles' } else { $source += ', needs -AcceptBackupRoles' }
        }
        $lines += "  $($role.RoleName): $($facts -join ', ') ($source)"
    }
    $lines -join [Environment]::NewLine
}
