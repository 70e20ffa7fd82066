# ShouldProcess for cmdlets whose confirmation is on by default (ConfirmImpact High): in a host that
# cannot prompt (pwsh -NonInteractive, a scheduled task) the host's own error says only that it
# cannot read input; this one names the fix. ShouldContinue likewise tells "no" from "cannot ask".

function Test-AzsShouldProcess {
    <#
    $Cmdlet.ShouldProcess(Target, Action). When it must ask and the host cannot, fails with
    AzsBackup.ConfirmationRequired, whose message names -Force and -Confirm:$false.
    #>
    [CmdletBinding()]
    [OutputType([bool])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [string] $Target,
        [Parameter(Mandatory)] [string] $Action
    )

    try {
        return $Cmdlet.ShouldProcess($Target, $Action)
    } catch [System.Management.Automation.MethodInvocationException] {
        if ($_.Exception.InnerException -isnot [System.Management.Automation.PSInvalidOperationException]) { throw }
        $name = $Cmdlet.MyInvocation.MyCommand.Name
        $Cmdlet.ThrowTerminatingError((New-AzsErrorRecord -Reason 'ConfirmationRequired' -Target $Target -InnerException $_.Exception.InnerException -Message (
                    "$name asks for confirmation before it will $($Action.Substring(0, 1).ToLowerInvariant() + $Action.Substring(1)), " +
                    'and this PowerShell host cannot ask (it runs non-interactively). ' +
                    "Run $name again with -Force (or -Confirm:`$false) to go ahead without confirmation.")))
    }
}

function Get-AzsContinueAnswer {
    <#
    $Cmdlet.ShouldContinue(Query, Caption) as 'Yes' or 'No', or 'CannotAsk' when the host cannot
    prompt: the caller then fails with the error that names the file and -Force.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [string] $Query,
        [Parameter(Mandatory)] [string] $Caption
    )

    try {
        if ($Cmdlet.ShouldContinue($Query, $Caption)) { return 'Yes' }
        return 'No'
    } catch [System.Management.Automation.MethodInvocationException] {
        if ($_.Exception.InnerException -isnot [System.Management.Automation.PSInvalidOperationException]) { throw }
        return 'CannotAsk'
    }
}
