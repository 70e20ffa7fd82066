# -AsJob: the cmdlet runs again, in a thread job (Start-ThreadJob, PowerShell 7) or a background job
# (Start-Job, Windows PowerShell), with the parameters it was given. The job's own Output holds the
# result (`$job.Output.BackupId`). Confirmation happened before the job started, so it is off inside.

function Start-AzsCommandJob {
    [CmdletBinding()]
    [OutputType([System.Management.Automation.Job])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [System.Collections.IDictionary] $BoundParameters
    )

    $command = $Cmdlet.MyInvocation.MyCommand
    $arguments = @{}
    foreach ($key in $BoundParameters.Keys) {
        if (@('AsJob', 'WhatIf', 'Confirm') -notcontains $key) { $arguments[$key] = $BoundParameters[$key] }
    }
    if ($command.Parameters.ContainsKey('Confirm')) { $arguments['Confirm'] = $false }
    $job = {
        param($Manifest, $CommandName, $Arguments)
        Import-Module -Name $Manifest
        # Rethrown, a terminating error ends the job as Failed, with the error in its Error stream.
        try { & $CommandName @Arguments } catch { throw $_ }
    }
    $jobArguments = @($script:AzsManifestPath, $command.Name, $arguments)
    if (Get-Command -Name 'Start-ThreadJob' -ErrorAction SilentlyContinue) {
        return Start-ThreadJob -Name $command.Name -ScriptBlock $job -ArgumentList $jobArguments
    }
    # A background job's parent keeps no Output of its own; its one child does, with State and
    # PSBeginTime, which is what Microsoft's published scripts read. (Windows PowerShell only: untested here.)
    (Start-Job -Name $command.Name -ScriptBlock $job -ArgumentList $jobArguments).ChildJobs[0]
}
