function Remove-AzsBackupNotificationTarget {
    <#
    .SYNOPSIS
    Removes notification targets.

    .DESCRIPTION
    Removes targets and the messages still waiting for them; their sealed secrets are deleted with
    them. An alert that a removed target kept refusing messages closes. A name that matches no
    target is a non-terminating error (AzsBackup.NotificationTargetNotFound) and the other names are
    still processed.

    .PARAMETER Name
    The names of the targets to remove (not case-sensitive; no wildcards). Target objects from
    Get-AzsBackupNotificationTarget can be piped in.

    .PARAMETER PassThru
    Returns the target that was removed.

    .PARAMETER WhatIf
    Shows which targets would be removed without removing them.

    .PARAMETER Confirm
    Asks for confirmation before removing each target.

    .EXAMPLE
    Remove-AzsBackupNotificationTarget -Name 'ops'

    Stops sending notifications to the target ops.

    .EXAMPLE
    Get-AzsBackupNotificationTarget -Name 'test-*' | Remove-AzsBackupNotificationTarget -Confirm:$false

    Removes every target whose name starts with test-, without asking.

    .INPUTS
    AzureStackBackup.NotificationTarget. You can pipe targets, or objects with a Name property, to
    this cmdlet.

    .OUTPUTS
    None; with -PassThru, AzureStackBackup.NotificationTarget.

    .LINK
    Get-AzsBackupNotificationTarget

    .LINK
    Add-AzsBackupNotificationTarget
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    [OutputType('AzureStackBackup.NotificationTarget')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [string[]] $Name,

        [switch] $PassThru
    )

    process {
        foreach ($targetName in $Name) {
            if (-not $PSCmdlet.ShouldProcess($targetName, 'Remove the notification target')) { continue }
            $target = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'notification.remove' -Params @{ Name = $targetName } -NonTerminating
            if ($target -and $PassThru) { ConvertTo-AzsObject -InputObject $target -Type 'NotificationTarget' }
        }
    }
}
