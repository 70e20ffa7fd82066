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
    folder, or a blob container's URL: https://<account>.blob.core.windows.net/<container>[/<prefix>]
    on Azure, https://<account>.blob.<region>.<fqdn>/<container>[/<prefix>] on Azure Stack Hub, or any
    http(s) blob endpoint (http://127.0.0.1:10000/<account>/<container> for Azurite). A URL with a
    query (a pasted SAS) is refused: give the SAS token as -Password. A relative folder path is
    resolved against the current location.

    .PARAMETER UserName
    The account to check with instead of the configured one: for a share DOMAIN\user, user@domain or
    user; for a blob container with an account key, the storage account's name (not needed with a
    SAS token).

    .PARAMETER Password
    The secret to check with instead of the saved one, as a SecureString: the share password, or for
    a blob container a SAS token for the container or the storage account's key.

    .PARAMETER RequireEncryption
    Fails the check when the SMB session is not encrypted, or the blob container's URL is plain
    http://; -RequireEncryption:$false allows it. The default is the configured value.

    .EXAMPLE
    Test-AzsBackupShareAccessibility

    Checks the configured store with the saved credentials.

    .EXAMPLE
    Test-AzsBackupShareAccessibility -Path '\\fileserver\backups\stamp1' -UserName 'CONTOSO\backupadmin' -Password $password -RequireEncryption

    Checks a new share and its account before configuring it, and insists on SMB encryption.

    .EXAMPLE
    Test-AzsBackupShareAccessibility -Path 'https://contosobackups.blob.core.windows.net/azs-backups/stamp1' -Password (Read-Host -AsSecureString -Prompt 'SAS token')

    Checks an Azure Blob Storage container with a SAS token for it before configuring it: the listing
    of the container, the protocol, a write/read/delete probe; capacity is reported as unknown, since
    the service does not tell an account's free space.

    .EXAMPLE
    Test-AzsBackupShareAccessibility -Path 'https://backupacct.blob.local.azurestack.external/azs-backups' -UserName 'backupacct' -Password $key

    Checks a container on an Azure Stack Hub's blob endpoint with the storage account's name and key.

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
