# job.progress notifications as Write-Progress: one bar for the job (Id 1) and one per role under it.

function New-AzsProgressState {
    [CmdletBinding()]
    [OutputType([hashtable])]
    param([Parameter(Mandatory)] [string] $Activity)

    @{ Activity = $Activity; RoleIds = [ordered]@{} }
}

function Write-AzsProgress {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [hashtable] $State,
        [Parameter(Mandatory)] [psobject] $Update
    )

    $percent = Get-AzsProperty -InputObject $Update -Name 'percentComplete'
    if ($null -eq $percent) { $percent = -1 }
    $progress = @{
        Activity        = [string](Get-AzsProperty -InputObject $Update -Name 'activity')
        Status          = [string](Get-AzsProperty -InputObject $Update -Name 'status')
        PercentComplete = [int][System.Math]::Max(-1, [System.Math]::Min(100, [double]$percent))
        Id              = 1
    }
    if (-not $progress.Activity) { $progress.Activity = $State.Activity }
    if (-not $progress.Status) { $progress.Status = 'Running' }
    $roleName = [string](Get-AzsProperty -InputObject $Update -Name 'roleName')
    if ($roleName) {
        if (-not $State.RoleIds.Contains($roleName)) { $State.RoleIds[$roleName] = $State.RoleIds.Count + 2 }
        $progress.Id = $State.RoleIds[$roleName]
        $progress.ParentId = 1
        $progress.Activity = $roleName
    }
    Write-Progress @progress
}

function Complete-AzsProgress {
    [CmdletBinding()]
    param([Parameter(Mandatory)] [hashtable] $State)

    foreach ($roleName in $State.RoleIds.Keys) {
        Write-Progress -Id $State.RoleIds[$roleName] -ParentId 1 -Activity $roleName -Completed
    }
    Write-Progress -Id 1 -Activity $State.Activity -Completed
}
