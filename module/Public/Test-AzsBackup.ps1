function Test-AzsBackup {
    <#
    .SYNOPSIS
    Verifies a backup on the external store, role by role, without restoring anything.

    .DESCRIPTION
    Checks that a backup can be restored, and returns one BackupTestResult per role with its Status
    (Succeeded or Failed), the ErrorMessage, and the File that failed: the first stored file that
    does not match the manifest, or (with the .pfx) the file inside a role archive whose content
    fails.

    Without -DecryptionCertPath, every stored byte is checked against the sizes and SHA-256 hashes in
    the backup's manifest: this finds damaged, truncated or missing files and needs no secret. With
    -DecryptionCertPath and -DecryptionCertPassword, the manifest's own MAC is checked first (a
    manifest changed after the backup was written fails every role, with File BackupInfo.json), then
    every chunk is decrypted and authenticated and every entry checked, in the same single pass over
    the stored bytes that Restore-AzsBackup verifies with while it restores. Nothing is written to the roles or the store in either case.

    A role that fails verification is a result with Status Failed, not an error, so that a script
    can read every role's outcome: $? stays $true and the exit code of pwsh -Command stays 0. Add
    -ErrorOnFailure to also write a non-terminating error (AzsBackup.BackupCorrupt) for each failed
    role after its result: then $? is $false, pwsh -Command exits with 1, and -ErrorAction Stop ends
    the command at the first failed role. Problems with the request itself are errors in every case:
    AzsBackup.BackupNotFound, AzsBackup.CertificateNotFound, AzsBackup.DecryptionFailed (wrong
    password) and AzsBackup.DecryptionCertificateMismatch (a .pfx of another certificate); they are
    non-terminating, so the other backups piped in are still tested.

    .PARAMETER Name
    The backups to test: BackupId, or location/id as in the Name property. A wildcard is allowed when
    it matches exactly one backup. Backups from Get-AzsBackup can be piped in.

    .PARAMETER DecryptionCertPath
    The .pfx file of the encryption certificate the backup was made with; with it every chunk is
    decrypted and authenticated too. A relative path is resolved against the current location.

    .PARAMETER DecryptionCertPassword
    The password of the .pfx, as a SecureString. It is used for this test only and never stored.

    .PARAMETER ErrorOnFailure
    Also writes a non-terminating error (AzsBackup.BackupCorrupt, with the failed file as target)
    for every role that fails, so that $? and the exit code of pwsh -Command report the failure.

    .EXAMPLE
    Test-AzsBackup -Name 7d4c2b1e-3f0a-4c55-9e2d-0b6a1f8c9d10

    Checks every stored file of the backup against its manifest and shows one result per role.

    .EXAMPLE
    Get-AzsBackup | Test-AzsBackup -DecryptionCertPath ./backup.pfx -DecryptionCertPassword $password | Where-Object Status -eq 'Failed'

    Decrypts and checks every backup on the store and shows only the roles that would not restore.

    .EXAMPLE
    pwsh -NonInteractive -Command "Import-Module AzureStackBackup; Get-AzsBackup -Top 1 | Test-AzsBackup -ErrorOnFailure"

    In a scheduled task: exits with 1, and writes the failed role and file to the error stream, when
    the newest backup is damaged.

    .INPUTS
    AzureStackBackup.Backup. You can pipe backups, or objects with a Name or BackupId property, to
    this cmdlet.

    .OUTPUTS
    AzureStackBackup.BackupTestResult. One per role: BackupId, RoleName, Status, ErrorMessage and
    File.

    .LINK
    Restore-AzsBackup

    .LINK
    Get-AzsBackup
    #>
    [CmdletBinding(DefaultParameterSetName = 'Stored')]
    [OutputType('AzureStackBackup.BackupTestResult')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [Alias('BackupId')]
        [SupportsWildcards()]
        [string[]] $Name,

        [Parameter(Mandatory, ParameterSetName = 'Decrypted')]
        [string] $DecryptionCertPath,

        [Parameter(Mandatory, ParameterSetName = 'Decrypted')]
        [System.Security.SecureString] $DecryptionCertPassword,

        [switch] $ErrorOnFailure
    )

    process {
        foreach ($backupName in $Name) {
            $request = [ordered]@{ Name = $backupName }
            if ($PSCmdlet.ParameterSetName -eq 'Decrypted') {
                $request.DecryptionCertPath = Resolve-AzsPath -Cmdlet $PSCmdlet -Path $DecryptionCertPath
                $request.DecryptionCertPassword = $DecryptionCertPassword
            }
            Write-Progress -Id 1 -Activity 'Verifying backups' -Status $backupName
            try {
                $answer = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'backup.test' -Params $request -NonTerminating
            } finally {
                Write-Progress -Id 1 -Activity 'Verifying backups' -Completed
            }
            if (-not $answer) { continue }
            foreach ($result in @($answer.results)) {
                ConvertTo-AzsObject -InputObject $result -Type 'BackupTestResult'
                if ($ErrorOnFailure -and $result.Status -ne 'Succeeded') { Write-AzsTestFailure -Cmdlet $PSCmdlet -Result $result }
            }
        }
    }
}
