function Unregister-AzsInfrastructureRole {
    <#
    .SYNOPSIS
    Removes the registration of infrastructure roles.

    .DESCRIPTION
    Removes roles from the set that backups capture. The role's data and the backups already taken
    stay as they are; later backups no longer capture the role. A name that is not registered is a
    non-terminating error (AzsBackup.RoleNotFound) and the other names are still processed.

    .PARAMETER Name
    The exact names of the roles to unregister. Role objects from Get-AzsInfrastructureRole can be
    piped in.

    .PARAMETER PassThru
    Returns the role that was unregistered.

    .PARAMETER WhatIf
    Shows which roles would be unregistered without changing anything.

    .PARAMETER Confirm
    Asks for confirmation before unregistering each role.

    .EXAMPLE
    Unregister-AzsInfrastructureRole -Name 'WAS'

    Stops backing up the role WAS.

    .EXAMPLE
    Get-AzsInfrastructureRole -Name 'Test*' | Unregister-AzsInfrastructureRole -WhatIf

    Shows which roles whose names start with Test would be unregistered.

    .INPUTS
    AzureStackBackup.Role. You can pipe roles, or objects with a Name property, to this cmdlet.

    .OUTPUTS
    None; with -PassThru, AzureStackBackup.Role.

    .LINK
    Register-AzsInfrastructureRole

    .LINK
    Get-AzsInfrastructureRole
    #>
    [CmdletBinding(SupportsShouldProcess, ConfirmImpact = 'Medium')]
    [OutputType('AzureStackBackup.Role')]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ValueFromPipelineByPropertyName)]
        [string[]] $Name,

        [switch] $PassThru
    )

    process {
        foreach ($roleName in $Name) {
            if (-not $PSCmdlet.ShouldProcess($roleName, 'Unregister the infrastructure role')) { continue }
            $role = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'role.unregister' -Params @{ Name = $roleName } -NonTerminating
            if ($role -and $PassThru) { ConvertTo-AzsObject -InputObject $role -Type 'Role' }
        }
    }
}
