# job.progress notifications as Write-Progress: the job's bar (Id 1: activity, status, overall
# percentage) and, under it, one bar per role named in the notifications.

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

    $activity = [string](Get-AzsProperty -InputObject $Update -Name 'activity')
    if ($activity) { $State.Activity = $activity }
    $status = [string](Get-AzsProperty -InputObject $Update -Name 'status')
    if (-not $status) { $status = 'Running' }
    $percent = Get-AzsProperty -InputObject $Update -Name 'percentComplete'
    if ($null -eq $percent) { $percent = -1 }
    $percent = [int][System.Math]::Max(-1, [System.Math]::Min(100, [double]$percent))
    Write-Progress -Id 1 -Activity $State.Activity -Status $status -PercentComplete $percent

    $roleName = [string](Get-AzsProperty -InputObject $Update -Name 'roleName')
    if (-not $roleName) { return }
    if (-not $State.RoleIds.Contains($roleName)) { $State.RoleIds[$roleName] = $State.RoleIds.Count + 2 }
    Write-Progress -Id $State.RoleIds[$roleName] -ParentId 1 -Activity $roleName -Status $status
}

function Complete-AzsProgress {
    [CmdletBinding()]
    param([Parameter(Mandatory)] [hashtable] $State)

    foreach ($roleName in $State.RoleIds.Keys) {
        Write-Progress -Id $State.RoleIds[$roleName] -ParentId 1 -Activity $roleName -Completed
    }
    Write-Progress -Id 1 -Activity $State.Activity -Completed
}
