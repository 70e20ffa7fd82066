function Test-AzsBackupNotificationTarget {
    <#
    .SYNOPSIS
    Sends a test event to notification targets and returns what each answered.

    .DESCRIPTION
    Sends a notification.test event to each target now, as its kind would send a real one (a signed
    POST for a Webhook, a ping for a Heartbeat, one RFC 5424 message for Syslog), and returns one
    NotificationTestResult per target: whether it was delivered, the HTTP status, the start of the
    answer or why nothing was delivered, and how long it took.

    A target that cannot be reached or refuses the event is a result with Succeeded $false, not an
    error, as Test-AzsBackupShareAccessibility reports a failed check; the test is not queued or
    retried. A name that matches no target is a non-terminating error
    (AzsBackup.NotificationTargetNotFound) and the other names are still tested.

    .PARAMETER Name
    The names of the targets to test (not case-sensitive; no wildcards). Target objects from
    Get-AzsBackupNotificationTarget can be piped in.

    .EXAMPLE
    Test-AzsBackupNotificationTarget -Name 'ops'

    Sends a test event to the target ops and shows whether it answered, with its HTTP status.

    .EXAMPLE
    Get-AzsBackupNotificationTarget | Test-AzsBackupNotificationTarget | Where-Object { -not $_.Succeeded } | Format-List Name, Uri, StatusCode, Response

    Tests every target and shows those that did not accept the test event, with their answers.

    .INPUTS
    AzureStackBackup.NotificationTarget. You can pipe targets, or objects with a Name property, to
    this cmdlet.

    .OUTPUTS
    AzureStackBackup.NotificationTestResult. Name, Kind, Uri, Succeeded, StatusCode (HTTP; $null for
    Syslog or when nothing answered), Response and DurationMilliseconds.

    .LINK
    Add-AzsBackupNotificationTarget

    .LINK
    Get-AzsBackupNotificationTarget
    #>
    [CmdletBinding()]
    [OutputType('AzureStackBackup.NotificationTestResult')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [string[]] $Name
    )

    process {
        foreach ($targetName in $Name) {
            $result = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'notification.test' -Params @{ Name = $targetName } -NonTerminating
            if ($result) { ConvertTo-AzsObject -InputObject $result -Type 'NotificationTestResult' }
        }
    }
}
