function Get-AzsBackupAlert {
    <#
    .SYNOPSIS
    Gets the backup alerts of the deployment, newest first, each with its remediation.

    .DESCRIPTION
    Gets the alerts the engine raised, newest first. Each alert has a Title, a Severity (Critical or
    Warning), a State (Active or Closed), a Description of what happened, the Remediation that says
    what to check and which cmdlet to run, the times it was created and closed, and the BackupId of
    the backup it concerns, if any.

    Failure alerts (the store is out of capacity, cannot be reached, has a fault in its path, refuses
    the account, or a general fault) open when a backup fails and close when a backup succeeds.
    Condition alerts (the encryption certificate expires within 30 days or has expired, automatic
    backups are disabled, the store is almost full, a role stored no data, retention could not delete,
    a pack of the backup repository is damaged or missing) stay active while their condition lasts.

    .PARAMETER State
    Gets only the Active or only the Closed alerts. Without it every alert is returned.

    .EXAMPLE
    Get-AzsBackupAlert -State Active

    Shows the problems that need attention now.

    .EXAMPLE
    Get-AzsBackupAlert -State Active | Format-List Title, Description, Remediation

    Shows what each active alert is about and how to fix it.

    .EXAMPLE
    Get-AzsBackupAlert -State Closed | Select-Object -First 5 Title, CreatedTime, ClosedTime

    Shows the five most recent alerts that were closed, and when.

    .INPUTS
    None. You cannot pipe objects to this cmdlet.

    .OUTPUTS
    AzureStackBackup.Alert. AlertId, Title, Severity, State, CreatedTime and ClosedTime (UTC),
    Description, Remediation and BackupId.

    .LINK
    Start-AzsBackup

    .LINK
    Get-AzsBackupConfiguration
    #>
    [CmdletBinding()]
    [OutputType('AzureStackBackup.Alert')]
    param(
        [ValidateSet('Active', 'Closed')]
        [string] $State
    )

    $request = @{}
    if ($State) { $request.State = $State }
    $answer = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'alert.list' -Params $request
    foreach ($alert in @($answer.alerts)) { ConvertTo-AzsObject -InputObject $alert -Type 'Alert' }
}
