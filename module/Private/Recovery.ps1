# Restore-AzsBackup and Test-AzsBackup: the piped backup as the name the daemon looks up, and a
# failed role as an ErrorRecord.

function Get-AzsBackupName {
    <# The BackupId (else the Name) of a piped backup; a piped string is the name itself. #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [psobject] $InputObject
    )

    if ($InputObject -is [string]) { return [string]$InputObject }
    foreach ($property in 'BackupId', 'Name') {
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
