function Get-AzsBackup {
    <#
    .SYNOPSIS
    Gets the backups found on the external store, newest first.

    .DESCRIPTION
    Lists the backups on the configured store, newest first, with their status, the status of every
    role, sizes, times and whether they are ready for cloud recovery. Backups are read from the store
    itself, so a fresh deployment pointed at an existing store sees every backup there.

    IsKnownToDeployment is $true only for a backup this deployment wrote, with its manifest
    unchanged since (the daemon keeps the digest of every manifest it writes in its state folder).
    A backup of another deployment, one read by a fresh deployment in a cloud recovery, or one
    placed or edited on the share by anyone else shows $false; restoring it needs
    Restore-AzsBackup -AcceptBackupRoles for any role not registered here.

    A name without wildcards that matches no backup is an error (AzsBackup.BackupNotFound); a
    wildcard that matches none returns nothing.

    A store whose folder (or share) is missing is not a store without backups: the cmdlet then fails
    with AzsBackup.PathNotFound, saying what to check. An existing folder that holds no MASBackup
    folder yet lists no backups, without an error.

    .PARAMETER Name
    A backup id, or location/id as in the Name property, to get one backup. Wildcards are allowed.
    Backup objects can be piped in.

    .PARAMETER Top
    Returns at most this many backups (after Skip).

    .PARAMETER Skip
    Skips this many of the newest backups.

    .PARAMETER Location
    For scripts written for Azs.Backup.Admin: the deployment's location (the Location of its
    backups, 'local' unless chosen at first start). Any other location fails with
    AzsBackup.LocationMismatch before anything is done.

    .PARAMETER ResourceGroupName
    For scripts written for Azs.Backup.Admin: accepted and ignored (a verbose message says so); the
    cmdlet acts on the deployment of its state folder.

    .PARAMETER SubscriptionId
    For scripts written for Azs.Backup.Admin: accepted and ignored (a verbose message says so); the
    cmdlet acts on the deployment of its state folder.

    .PARAMETER InputObject
    For scripts written for Azs.Backup.Admin: an identity object that names one backup in its
    Backup property (or a Backup, with its BackupId). Its Location, if any, is checked as -Location
    is; its ResourceGroupName and SubscriptionId are ignored. Given by name only: piped objects bind
    to -Name, as before.

    .EXAMPLE
    Get-AzsBackup

    Lists every backup on the store, newest first.

    .EXAMPLE
    Get-AzsBackup -Top 1 | Select-Object -ExpandProperty RoleStatus

    Shows how every role fared in the newest backup.

    .EXAMPLE
    Get-AzsBackup -Name 'local/7d4c2b1e-*' | Format-List

    Shows every detail of the backup whose id starts with 7d4c2b1e.

    .EXAMPLE
    Get-AzsBackup -InputObject ([pscustomobject]@{ Backup = $backupId; Location = 'local'; ResourceGroupName = 'system.local' })

    As a script written for Azs.Backup.Admin gets a backup through its identity.

    .INPUTS
    AzureStackBackup.Backup. You can pipe backups, or objects with a Name or BackupId property, to this cmdlet.

    .OUTPUTS
    AzureStackBackup.Backup, with RoleStatus entries of type AzureStackBackup.RoleStatus.
    CreatedDateTime is a UTC DateTime.

    .LINK
    Start-AzsBackup
    #>
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    [OutputType('AzureStackBackup.Backup')]
    param(
        [Parameter(ParameterSetName = 'Name', Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [Alias('BackupId')]
        [SupportsWildcards()]
        [string] $Name,

        [Parameter(ParameterSetName = 'Name')]
        [int] $Top,

        [Parameter(ParameterSetName = 'Name')]
        [int] $Skip,

        [Parameter(Mandatory, ParameterSetName = 'InputObject')]
        [psobject] $InputObject,

        [string] $Location,

        [string] $ResourceGroupName,

        [string] $SubscriptionId
    )

    begin {
        Assert-AzsAdminScope -Cmdlet $PSCmdlet -BoundParameters $PSBoundParameters -InputObjectIsIdentity
    }

    process {
        if ($PSCmdlet.ParameterSetName -eq 'InputObject') { $Name = Get-AzsBackupName -Cmdlet $PSCmdlet -InputObject $InputObject }
        $request = [ordered]@{}
        if ($Name) { $request.Name = $Name }
        if ($PSBoundParameters.ContainsKey('Top')) { $request.Top = $Top }
        if ($PSBoundParameters.ContainsKey('Skip')) { $request.Skip = $Skip }
        $answer = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'backup.list' -Params $request
        $backups = @($answer.backups)
        foreach ($backup in $backups) { ConvertTo-AzsObject -InputObject $backup -Type 'Backup' }
        if ($Name -and $backups.Count -eq 0 -and -not [System.Management.Automation.WildcardPattern]::ContainsWildcardCharacters($Name)) {
            $PSCmdlet.WriteError((New-AzsErrorRecord -Reason 'BackupNotFound' -Target $Name -Parameter 'Name' -Message (
                        "No backup named '$Name' is on the store. List the backups with Get-AzsBackup.")))
        }
    }
}
