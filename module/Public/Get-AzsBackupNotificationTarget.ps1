function Get-AzsBackupNotificationTarget {
    <#
    .SYNOPSIS
    Gets the notification targets and how their deliveries went.

    .DESCRIPTION
    Gets the targets the daemon pushes alerts and job ends to, with their kind and address, whether
    a signing secret is set (never the secret), the messages still waiting for them, and when a
    message last reached them or why the last one did not. Without -Name it gets every target. A
    name without wildcards that matches no target is an error (AzsBackup.NotificationTargetNotFound);
    a wildcard that matches none returns nothing.

    .PARAMETER Name
    The names of the targets to get. Wildcards are allowed; names are not case-sensitive.

    .EXAMPLE
    Get-AzsBackupNotificationTarget

    Lists every notification target.

    .EXAMPLE
    Get-AzsBackupNotificationTarget -Name 'ops*' | Format-List

    Shows every detail of the targets whose names start with ops, including the last error.

    .EXAMPLE
    Get-AzsBackupNotificationTarget | Where-Object PendingMessages -gt 0

    Shows the webhook targets that have messages waiting to be delivered.

    .INPUTS
    System.String. You can pipe target names, or objects with a Name property, to this cmdlet.

    .OUTPUTS
    AzureStackBackup.NotificationTarget. Name, Kind, Uri, HasSecret, CreatedTime (UTC),
    PendingMessages, LastDeliveryTime (UTC) and LastError.

    .LINK
    Add-AzsBackupNotificationTarget

    .LINK
    Remove-AzsBackupNotificationTarget

    .LINK
    Test-AzsBackupNotificationTarget
    #>
    [CmdletBinding()]
    [OutputType('AzureStackBackup.NotificationTarget')]
    param(
        [Parameter(Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [SupportsWildcards()]
        [string[]] $Name
    )

    process {
        Get-AzsNamedObject -Caller $PSCmdlet -Method 'notification.list' -ListProperty 'targets' -Type 'NotificationTarget' -Name $Name `
            -NotFoundReason 'NotificationTargetNotFound' -NotFoundMessage { "There is no notification target named '$_'. List the targets with Get-AzsBackupNotificationTarget." }
    }
}
