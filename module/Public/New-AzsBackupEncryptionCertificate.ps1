function New-AzsBackupEncryptionCertificate {
    <#
    .SYNOPSIS
    Creates a self-signed encryption certificate for backups: a public .cer and a password-protected .pfx.

    .DESCRIPTION
    Creates an RSA 3072-bit key pair and a self-signed certificate, and writes the public certificate
    (.cer, DER) and the certificate with its private key (.pfx, protected by PfxPassword). It needs no
    Windows certificate store.

    Give the .cer to Set-AzsBackupConfiguration -EncryptionCertPath: backups are encrypted for it.
    Keep the .pfx and its password safe and away from the deployment: Restore-AzsBackup needs them,
    and nobody can restore a backup without them.

    An existing file at CerPath or PfxPath is never replaced silently: an old .pfx may be the only key
    to earlier backups. The cmdlet asks before it replaces either file; -Force replaces them without
    asking. Where it cannot ask (pwsh -NonInteractive, a scheduled task) and -Force is not given, it
    fails with AzsBackup.CertificateFileExists (ResourceExists), naming the file, and writes nothing.

    The password is sent to the local daemon only to protect the .pfx, and is never stored.

    .PARAMETER Subject
    The certificate's subject, a distinguished name. The default is 'CN=AzureStackBackup'.

    .PARAMETER CerPath
    Where to write the public certificate (.cer). A relative path is resolved against the current
    location; the folder must exist.

    .PARAMETER PfxPath
    Where to write the certificate with its private key (.pfx). A relative path is resolved against
    the current location; the folder must exist.

    .PARAMETER PfxPassword
    The password that protects the .pfx, as a SecureString.

    .PARAMETER ValidityYears
    How many years the certificate is valid, from its creation. The default is 2.

    .PARAMETER Force
    Replaces an existing .cer or .pfx at CerPath or PfxPath without asking, and suppresses every
    confirmation. Keep a copy of an old .pfx first: backups encrypted for its certificate cannot be
    restored without it.

    .PARAMETER WhatIf
    Shows which files would be written, and which existing ones replaced, without creating anything.

    .PARAMETER Confirm
    Asks for confirmation before creating the certificate.

    .EXAMPLE
    $password = Read-Host -AsSecureString -Prompt 'Password for the .pfx'
    New-AzsBackupEncryptionCertificate -CerPath ./backup.cer -PfxPath ./backup.pfx -PfxPassword $password

    Creates backup.cer and backup.pfx in the current folder, valid for two years.

    .EXAMPLE
    $cert = New-AzsBackupEncryptionCertificate -Subject 'CN=Stamp1 Backup, O=Contoso' -CerPath /secure/stamp1.cer -PfxPath /secure/stamp1.pfx -PfxPassword $password -ValidityYears 5
    Set-AzsBackupConfiguration -EncryptionCertPath $cert.CerPath

    Creates a five-year certificate and makes it the one backups are encrypted for.

    .EXAMPLE
    Copy-Item /secure/stamp1.pfx /vault/stamp1-2024.pfx
    New-AzsBackupEncryptionCertificate -CerPath /secure/stamp1.cer -PfxPath /secure/stamp1.pfx -PfxPassword $password -Force

    Keeps the old .pfx elsewhere, then replaces the certificate files without asking (as a scheduled
    renewal must: without -Force it would refuse to replace them).

    .INPUTS
    None. You cannot pipe objects to this cmdlet.

    .OUTPUTS
    AzureStackBackup.EncryptionCertificate. Thumbprint, Subject, NotAfter (UTC), CerPath and PfxPath.

    .LINK
    Set-AzsBackupConfiguration
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    [OutputType('AzureStackBackup.EncryptionCertificate')]
    param(
        [string] $Subject = 'CN=AzureStackBackup',

        [Parameter(Mandatory)]
        [string] $CerPath,

        [Parameter(Mandatory)]
        [string] $PfxPath,

        [Parameter(Mandatory)]
        [System.Security.SecureString] $PfxPassword,

        [double] $ValidityYears = 2,

        [switch] $Force
    )

    $request = [ordered]@{
        Subject       = $Subject
        CerPath       = Resolve-AzsPath -Cmdlet $PSCmdlet -Path $CerPath
        PfxPath       = Resolve-AzsPath -Cmdlet $PSCmdlet -Path $PfxPath
        PfxPassword   = $PfxPassword
        ValidityYears = $ValidityYears
    }
    $target = "$($request.CerPath) and $($request.PfxPath)"
    $existing = @($request.PfxPath, $request.CerPath | Where-Object { Test-Path -LiteralPath $_ -PathType Leaf })
    $action = "Create the encryption certificate '$Subject'"
    if ($existing) { $action += ", replacing the existing $($existing -join ' and ')" }
    if ($Force -and -not $PSBoundParameters.ContainsKey('Confirm')) { $ConfirmPreference = 'None' }
    if (-not (Test-AzsShouldProcess -Cmdlet $PSCmdlet -Target $target -Action $action)) { return }
    $request.Overwrite = [bool]$Force
    if ($existing -and -not $Force) {
        $answer = Get-AzsContinueAnswer -Cmdlet $PSCmdlet -Caption 'Replace the certificate files' -Query (
            "Replace the existing $($existing -join ' and ')? A .pfx may be the only key to earlier backups: " +
            'keep a copy of it before you replace it.')
        if ($answer -eq 'No') { return }
        # Where the host cannot ask, the daemon refuses the existing file (AzsBackup.CertificateFileExists).
        $request.Overwrite = $answer -eq 'Yes'
    }
    $certificate = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'certificate.new' -Params $request
    ConvertTo-AzsObject -InputObject $certificate -Type 'EncryptionCertificate'
}
