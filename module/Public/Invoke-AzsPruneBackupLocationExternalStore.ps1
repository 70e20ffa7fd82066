function Invoke-AzsPruneBackupLocationExternalStore {
    <#
    .SYNOPSIS
    Removes files from the external store that belong to no complete backup.

    .DESCRIPTION
    Finds what under the store's MASBackup folder belongs to no complete backup, and removes it:
    backup folders without a manifest (BackupInfo.json) left by failed or stopped jobs, temporary
    upload files, files that a backup's manifest does not list, and timestamp folders holding
    nothing else. Complete backups, the folder of a backup that is running, and everything outside
    MASBackup are never touched. Retention (BackupRetentionPeriodInDays) is not applied here: it runs
    after every successful backup.

    It returns a PruneResult whose PathsToDelete lists every path found, as seen under the configured
    Path. With -OperationType DryRun it only lists them and removes nothing.

    .PARAMETER OperationType
    Default removes the paths found; DryRun only lists them. The default is Default.

    .PARAMETER WhatIf
    Shows that the orphaned files would be removed, without looking for them or removing anything.
    Use -OperationType DryRun to list them.

    .PARAMETER Confirm
    Asks for confirmation before removing anything. A dry run removes nothing and does not ask.

    .EXAMPLE
    Invoke-AzsPruneBackupLocationExternalStore -OperationType DryRun | Select-Object -ExpandProperty PathsToDelete

    Lists, one per line, the paths that a prune would remove, and removes nothing.

    .EXAMPLE
    Invoke-AzsPruneBackupLocationExternalStore

    Removes every file and folder under MASBackup that belongs to no complete backup, and returns
    what it removed.

    .EXAMPLE
    Invoke-AzsPruneBackupLocationExternalStore -Confirm

    Asks before removing the orphaned files.

    .INPUTS
    None. You cannot pipe objects to this cmdlet.

    .OUTPUTS
    AzureStackBackup.PruneResult. PathsToDelete: the paths removed (with DryRun: the paths that would
    be removed).

    .LINK
    Get-AzsBackup

    .LINK
    Set-AzsBackupConfiguration
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    [OutputType('AzureStackBackup.PruneResult')]
    param(
        [ValidateSet('Default', 'DryRun')]
        [string] $OperationType = 'Default'
    )

    $dryRun = $OperationType -eq 'DryRun'
    if (-not $dryRun) {
        $storePath = (Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'config.get').location.Path
        $target = 'the external store (none is configured)'
        if ($storePath) { $target = "MASBackup under '$storePath'" }
        if (-not $PSCmdlet.ShouldProcess($target, 'Remove the files that belong to no complete backup')) { return }
    }
    $answer = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'store.prune' -Params @{ DryRun = $dryRun }
    $result = ConvertTo-AzsObject -InputObject $answer -Type 'PruneResult'
    $result.PathsToDelete = [string[]]@($answer.PathsToDelete)
    $result
}
