function Get-AzsInfrastructureRole {
    <#
    .SYNOPSIS
    Gets the registered infrastructure roles.

    .DESCRIPTION
    Gets the roles that every backup captures, with their provider, path, scripts (PowerShell roles)
    and registration time. Without -Name it gets every role. A name without wildcards that matches no
    role is an error (AzsBackup.RoleNotFound); a wildcard that matches none returns nothing.

    .PARAMETER Name
    The names of the roles to get. Wildcards are allowed.

    .EXAMPLE
    Get-AzsInfrastructureRole

    Lists every registered role.

    .EXAMPLE
    Get-AzsInfrastructureRole -Name 'Key*' | Format-List

    Shows every detail of the roles whose names start with Key.

    .INPUTS
    System.String. You can pipe role names, or objects with a Name property, to this cmdlet.

    .OUTPUTS
    AzureStackBackup.Role. Name, Provider, Path, BackupScript, RestoreScript and RegisteredTime (UTC).

    .LINK
    Register-AzsInfrastructureRole

    .LINK
    Unregister-AzsInfrastructureRole
    #>
    [CmdletBinding()]
    [OutputType('AzureStackBackup.Role')]
    param(
        [Parameter(Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [SupportsWildcards()]
        [string[]] $Name
    )

    process {
        Get-AzsNamedObject -Caller $PSCmdlet -Method 'role.list' -ListProperty 'roles' -Type 'Role' -Name $Name `
            -NotFoundReason 'RoleNotFound' -NotFoundMessage { "No infrastructure role is named '$_'. List the registered roles with Get-AzsInfrastructureRole." }
    }
}
