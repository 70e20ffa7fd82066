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
        if (-not $Name) {
            $answer = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'role.list'
            foreach ($role in @($answer.roles)) { ConvertTo-AzsObject -InputObject $role -Type 'Role' }
            return
        }
        foreach ($pattern in $Name) {
            $answer = Invoke-AzsRpc -Cmdlet $PSCmdlet -Method 'role.list' -Params @{ Name = $pattern }
            $roles = @($answer.roles)
            foreach ($role in $roles) { ConvertTo-AzsObject -InputObject $role -Type 'Role' }
            if ($roles.Count -eq 0 -and -not [System.Management.Automation.WildcardPattern]::ContainsWildcardCharacters($pattern)) {
                $PSCmdlet.WriteError((New-AzsErrorRecord -Reason 'RoleNotFound' -Target $pattern -Parameter 'Name' -Message (
                            "No infrastructure role is named '$pattern'. List the registered roles with Get-AzsInfrastructureRole.")))
            }
        }
    }
}
