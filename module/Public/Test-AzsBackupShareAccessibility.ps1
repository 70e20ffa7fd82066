function Test-AzsBackupShareAccessibility {
    <#
    .SYNOPSIS
    Checks that the backup store can be used: reachability, authentication, protocol and encryption, a write/read/delete probe, and free capacity.

    .DESCRIPTION
    Runs the same checks that Set-AzsBackupConfiguration runs before it saves a store, and returns
    one ShareTest object per check with the result, the detail and, for a failed check, the fix.
    The first failed check ends the run, since the later ones cannot succeed. Nothing is saved.

    Without parameters it checks the configured store with the saved credentials; each parameter you
    give replaces the configured value for this test only.

    .PARAMETER Path
    The store to check instead of the configured one: \\server\share\folder, a local or mounted
    folder, or a blob container's URL (https://<account>.blob.core.windows.net/<container>[/<prefix>],
    with a SAS token or the account key as -Password). A relative path is resolved against the current
    location.

    .PARAMETER UserName
    The account to check with instead of the configured one: DOMAIN\user, user@domain or user.

    .PARAMETER Password
    The password to check with instead of the saved one, as a SecureString.

    .PARAMETER RequireEncryption
    Fails the check when the SMB session is not encrypted; -RequireEncryption:$false allows it. The
    default is the configured value.

    .EXAMPLE
    Test-AzsBackupShareAccessibility

    Checks the configured store with the saved credentials.

    .EXAMPLE
    Test-AzsBackupShareAccessibility -Path '\\fileserver\backups\stamp1' -UserName 'CONTOSO\backupadmin' -Password $password -RequireEncryption

    Checks a new share and its account before configuring it, and insists on SMB encryption.

    .EXAMPLE
    Test-AzsBackupShareAccessibility | Where-Object { -not $_.Passed } | Format-List Check, Detail, Fix

    Shows only the check that failed, with its fix.

    .INPUTS
    None. You cannot pipe objects to this cmdlet.

    .OUTPUTS
    AzureStackBackup.ShareTest. One per check: Check, Passed, Detail and Fix.

    .LINK
    Set-AzsBackupConfiguration
    #>
    [CmdletBinding()]
    [OutputType('AzureStackBackup.ShareTest')]
    param(
        [string] $Path,

        [string] $UserName,

        [System.Security.SecureString] $Password,

        [switch] $RequireEncryption
    )

    $request = [ordered]@{}
    if ($PSBoundParameters.ContainsKey('Path')) { $request.Path = Resolve-AzsPath -Cmdlet $PSCmdlet -Path $Path }
    if ($PSBoundParameters.ContainsKey('UserName')) { $request.UserName = $UserName }
    if ($PSBoundParameters.ContainsKey('Password')) { $request.Password = $Password }
    if ($PSBoundParameters.ContainsKey('RequireEncryption')) { $request.RequireEncryption = $RequireEncryption.IsPresent }
    $answer = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'store.test' -Params $request
    foreach ($test in @($answer.tests)) { ConvertTo-AzsObject -InputObject $test -Type 'ShareTest' }
}
