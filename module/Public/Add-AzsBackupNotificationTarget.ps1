function Add-AzsBackupNotificationTarget {
    <#
    .SYNOPSIS
    Adds a notification target: a webhook, a dead-man's switch (heartbeat) or a syslog server.

    .DESCRIPTION
    Adds a target to which the daemon pushes what happens, so that a failure reaches someone without
    anyone running Get-AzsBackupAlert. A Webhook target receives every alert that opens or closes
    and every job that ends as a JSON POST, signed when it has a secret. A Heartbeat target is
    pinged when a backup starts (<Uri>/start), succeeds (<Uri>) or fails (<Uri>/fail), as
    healthchecks.io and similar services expect. A Syslog target receives one RFC 5424 message per
    alert change and job end.

    The daemon checks the address for the kind and that the name is new; nothing is saved
    otherwise. The secret is kept sealed in the state folder, like the share password, and is
    never shown again: Get-AzsBackupNotificationTarget shows only HasSecret.

    .PARAMETER Name
    The target's name: 1 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit.
    Names are unique, whatever their case.

    .PARAMETER Kind
    The kind of target: Webhook, Heartbeat or Syslog.

    .PARAMETER Uri
    Where to send: an http:// or https:// URL for a Webhook or Heartbeat target, udp://host:port or
    tcp://host:port for a Syslog target. A URL must not carry a user name or password.

    .PARAMETER Secret
    The key that signs each webhook message (Standard Webhooks: webhook-id, webhook-timestamp and
    webhook-signature headers), as a SecureString: whsec_ followed by base64, as most receivers
    give it, or plain text. Webhook targets only.

    .PARAMETER WhatIf
    Shows the target that would be added without adding it.

    .PARAMETER Confirm
    Asks for confirmation before adding the target.

    .EXAMPLE
    Add-AzsBackupNotificationTarget -Name 'ops' -Kind Webhook -Uri 'https://hooks.example.com/azsbackup' -Secret (Read-Host -AsSecureString -Prompt 'Webhook secret')

    Sends every alert change and job end to the operations team's webhook, signed with the secret
    typed at the prompt.

    .EXAMPLE
    Add-AzsBackupNotificationTarget -Name 'deadman' -Kind Heartbeat -Uri 'https://hc-ping.com/0f6a1c1e-5c4b-4f3e-9c8a-2b7d6e5f4a3b'

    Pings a healthchecks.io check around every backup: the check alerts when the pings stop, even
    when the daemon itself is not running.

    .EXAMPLE
    Import-Csv ./targets.csv | Add-AzsBackupNotificationTarget

    Adds the targets listed in a CSV file with Name, Kind and Uri columns.

    .INPUTS
    System.Management.Automation.PSObject. Objects with Name, Kind and Uri properties can be piped
    to this cmdlet.

    .OUTPUTS
    AzureStackBackup.NotificationTarget. The target added: Name, Kind, Uri, HasSecret, CreatedTime
    (UTC), PendingMessages, LastDeliveryTime (UTC) and LastError.

    .LINK
    Get-AzsBackupNotificationTarget

    .LINK
    Test-AzsBackupNotificationTarget

    .LINK
    Remove-AzsBackupNotificationTarget
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    [OutputType('AzureStackBackup.NotificationTarget')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipelineByPropertyName)]
        [string] $Name,

        [Parameter(Mandatory, ValueFromPipelineByPropertyName)]
        [ValidateSet('Webhook', 'Heartbeat', 'Syslog')]
        [string] $Kind,

        [Parameter(Mandatory, ValueFromPipelineByPropertyName)]
        [string] $Uri,

        [System.Security.SecureString] $Secret
    )

    process {
        $request = [ordered]@{ Name = $Name; Kind = $Kind; Uri = $Uri }
        $what = "Add the $Kind notification target"
        if ($Secret -and $Secret.Length -gt 0) {
            $request.Secret = $Secret
            $what += ' with a signing secret'
        }
        if (-not $PSCmdlet.ShouldProcess($Name, $what)) { return }
        $target = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'notification.add' -Params $request -NonTerminating
        if ($target) { ConvertTo-AzsObject -InputObject $target -Type 'NotificationTarget' }
    }
}
