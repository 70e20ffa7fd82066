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

    .PARAMETER Name
    The role's name, such as Domain, KeyVaultDataPlane or WAS. It names the role's folder in every
    backup.

    .PARAMETER Provider
    How the role's data is captured and put back: Directory, Sqlite or PowerShell.

    .PARAMETER Path
    The folder (Directory) or database file (Sqlite) that holds the role's data. A relative path is
    resolved against the current location. PowerShell roles may use it too.

    .PARAMETER BackupScript
    For a PowerShell role: the script block that writes the role's data into the staging folder it is
    given. It is stored as text.

    .PARAMETER RestoreScript
    For a PowerShell role: the script block that puts the role's data back from the staging folder it
    is given. It is stored as text.

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
    Register-AzsInfrastructureRole -Name 'Domain' -Provider PowerShell -BackupScript { param($Staging) Export-Clixml -Path "$Staging/users.xml" -InputObject (Get-LocalUser) } -RestoreScript { param($Staging) Import-Clixml "$Staging/users.xml" | Out-Null }

    Backs up a role through your own script blocks.

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
