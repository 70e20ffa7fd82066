function Get-AzsBackupReport {
    <#
    .SYNOPSIS
    Writes the backup report: one self-contained HTML page that shows at a glance whether backups are healthy.

    .DESCRIPTION
    Writes an HTML report of the deployment's backups to OutFile and returns what it wrote. The page
    opens with a banner (Healthy, Attention or Failing, from the open alerts and the newest backup),
    then shows the last good backup, the next scheduled backup, the encryption certificate's expiry
    with the days left and whether the scheduler is on; the backups of the retention window on a
    timeline coloured by outcome (Succeeded, PartialSucceeded, Failed, Skipped, Cancelled); stored
    size and duration per backup and per role; free space on the store over time; and the open
    alerts and those closed in the retention window, each with its remediation.

    The page is self-contained: styles and charts (SVG) are inline, it runs no script and loads
    nothing from the network, so it can be opened from a share or attached to a ticket.

    The report is made from what the daemon keeps (job history, alerts, configuration, free-space
    samples), not from the store: it can be written while the share is down, and then says how old
    the newest free-space sample is.

    An existing file is not replaced without -Force: the cmdlet fails with
    AzsBackup.ReportFileExists (ResourceExists), naming the file. The folder must exist.

    .PARAMETER OutFile
    The HTML file to write, e.g. ./backup-report.html. A relative path is resolved against the
    current location; the folder must exist. Accepts the FullName of a file from the pipeline.

    .PARAMETER Force
    Replaces an existing file at OutFile.

    .PARAMETER WhatIf
    Shows which file would be written, without writing it.

    .PARAMETER Confirm
    Asks for confirmation before writing the file.

    .EXAMPLE
    Get-AzsBackupReport -OutFile ./backup-report.html

    Writes the report into the current folder and returns its path, size, time, number of backups
    and of active alerts. Open the file in any browser.

    .EXAMPLE
    Get-AzsBackupReport -OutFile /srv/reports/stamp1.html -Force | Select-Object -ExpandProperty Path

    Replaces yesterday's report (as a scheduled task would) and prints where it is.

    .EXAMPLE
    $report = Get-AzsBackupReport -OutFile "$HOME/reports/backup-$(Get-Date -Format yyyyMMdd).html"
    if ($report.ActiveAlerts -gt 0) { Copy-Item -LiteralPath $report.Path -Destination '\\fileserver\oncall\' }

    Keeps one report a day and copies it where the on-call team looks when an alert is open.

    .INPUTS
    System.String. An object with an OutFile (or FullName) property, e.g. from Get-Item.

    .OUTPUTS
    AzureStackBackup.ReportFile. Path, Bytes, GeneratedTime (UTC), Backups (in the retention window)
    and ActiveAlerts.

    .LINK
    Get-AzsBackupAlert

    .LINK
    Get-AzsBackupJob
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    [OutputType('AzureStackBackup.ReportFile')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipelineByPropertyName)]
        [Alias('FullName')]
        [string] $OutFile,

        [switch] $Force
    )

    process {
        $path = Resolve-AzsPath -Cmdlet $PSCmdlet -Path $OutFile
        $action = if (Test-Path -LiteralPath $path -PathType Leaf) { 'Replace the existing file with the backup report' } else { 'Write the backup report' }
        if (-not $PSCmdlet.ShouldProcess($path, $action)) { return }
        $report = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'report.write' -Params @{ OutFile = $path; Overwrite = [bool]$Force } -NonTerminating
        if ($report) { ConvertTo-AzsObject -InputObject $report -Type 'ReportFile' }
    }
}
