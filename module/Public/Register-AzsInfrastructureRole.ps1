function Register-AzsInfrastructureRole {
    <#
    .SYNOPSIS
    Registers an infrastructure role: a data source that every backup captures.

    .DESCRIPTION
    Registers a role with the engine. Every later backup captures the role's data with its provider,
    and records the registration, so that a fresh deployment learns its roles from the backup it
    restores.

    Providers:
    - Directory: a folder tree (files, empty folders, modes, times and symbolic links) at Path.
    - Sqlite: a live SQLite database file at Path, copied consistently with SQLite's backup API.
    - PowerShell: your own BackupScript and RestoreScript, run by the engine with a staging folder;
      they can reach anything, on this host or another (Invoke-Command).

    The PowerShell role contract: the backup script writes the role's data into the staging folder,
    and only what is there is backed up; on restore the folder holds the backed-up data before the
    restore script runs. Each script gets the folder three ways: as -StagingPath when its param block
    declares that parameter, otherwise as its first positional argument (whatever the parameter is
    called, or $args[0]); as the variable $StagingPath; and as its current location, so relative
    paths land in it. Scripts run in a fresh pwsh under Set-StrictMode -Version Latest (an unset
    variable fails the role instead of naming the file system's root). Any error the script writes
    fails the role; leave the script with 'return', not 'exit'. A role that stores no files or folders
    stays Succeeded with a warning in its RoleStatus ErrorMessage, and raises an alert when it had
    data in the previous backup.

    .PARAMETER Name
    The role's name, such as Domain, KeyVaultDataPlane or WAS. It names the role's folder in every
    backup.

    .PARAMETER Provider
    How the role's data is captured and put back: Directory, Sqlite or PowerShell.

    .PARAMETER Path
    The folder (Directory) or database file (Sqlite) that holds the role's data. A relative path is
    resolved against the current location. PowerShell roles may use it too.

    .PARAMETER BackupScript
    For a PowerShell role: the script block that writes the role's data into the staging folder, which
    it gets as -StagingPath (or its first argument), as $StagingPath and as its current location. It
    runs under Set-StrictMode -Version Latest and is stored as text.

    .PARAMETER RestoreScript
    For a PowerShell role: the script block that puts the role's data back from the staging folder,
    which it gets as the backup script does. It is stored as text.

    .PARAMETER WhatIf
    Shows what would be registered without registering it.

    .PARAMETER Confirm
    Asks for confirmation before registering the role.

    .EXAMPLE
    Register-AzsInfrastructureRole -Name 'WAS' -Provider Directory -Path /var/lib/was

    Backs up the folder tree /var/lib/was as the role WAS.

    .EXAMPLE
    Register-AzsInfrastructureRole -Name 'KeyVaultDataPlane' -Provider Sqlite -Path /var/lib/keyvault/vault.db

    Backs up a live SQLite database consistently while its service keeps running.

    .EXAMPLE
    Register-AzsInfrastructureRole -Name 'ECE' -Provider PowerShell -BackupScript { param($StagingPath) Copy-Item -Path '/etc/ece/*' -Destination $StagingPath -Recurse -Force } -RestoreScript { param($StagingPath) $null = New-Item -ItemType Directory -Path '/etc/ece' -Force; Copy-Item -Path (Join-Path $StagingPath '*') -Destination '/etc/ece' -Recurse -Force }

    Backs up the folder /etc/ece through your own script blocks: the backup script copies it into the
    staging folder, the restore script copies the staged data back. Each script receives the staging
    folder as its -StagingPath parameter (a script whose parameter has another name receives it as its
    first argument). -Force makes the wildcard include hidden files (names starting with a dot).

    .EXAMPLE
    Import-Csv ./roles.csv | Register-AzsInfrastructureRole

    Registers every role listed in a CSV file with Name, Provider and Path columns.

    .INPUTS
    System.Management.Automation.PSObject. Objects with Name, Provider and Path properties.

    .OUTPUTS
    AzureStackBackup.Role. The registered role.

    .LINK
    Get-AzsInfrastructureRole

    .LINK
    Unregister-AzsInfrastructureRole
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    [OutputType('AzureStackBackup.Role')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipelineByPropertyName)]
        [string] $Name,

        [Parameter(Mandatory, ValueFromPipelineByPropertyName)]
        [ValidateSet('Directory', 'Sqlite', 'PowerShell')]
        [string] $Provider,

        [Parameter(ValueFromPipelineByPropertyName)]
        [string] $Path,

        [scriptblock] $BackupScript,

        [scriptblock] $RestoreScript
    )

    process {
        $request = [ordered]@{ Name = $Name; Provider = $Provider }
        if ($Path) { $request.Path = Resolve-AzsPath -Cmdlet $PSCmdlet -Path $Path }
        if ($PSBoundParameters.ContainsKey('BackupScript')) { $request.BackupScript = $BackupScript.ToString() }
        if ($PSBoundParameters.ContainsKey('RestoreScript')) { $request.RestoreScript = $RestoreScript.ToString() }
        $what = "Register the $Provider role"
        if ($request.Contains('Path')) { $what += " of '$($request.Path)'" }
        if (-not $PSCmdlet.ShouldProcess($Name, $what)) { return }
        $role = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'role.register' -Params $request -NonTerminating
        if ($role) { ConvertTo-AzsObject -InputObject $role -Type 'Role' }
    }
}
