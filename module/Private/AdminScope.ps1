# Azs.Backup.Admin's scope parameters. Microsoft's cmdlets address the backup service of a region
# through Azure Resource Manager: -Location, -ResourceGroupName, -SubscriptionId, or an -InputObject
# identity that carries the same three. This module talks to one deployment's daemon, so an
# operator's script carries over when -Location names this deployment's location (anything else
# would act on a deployment the script did not mean) and the ARM-only names are accepted and ignored.

$script:AzsIgnoredScopeParameters = @('ResourceGroupName', 'SubscriptionId')

function Get-AzsRequestedScope {
    <# Location, ResourceGroupName and SubscriptionId as bound, else as the -InputObject identity carries them. #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param(
        [Parameter(Mandatory)] [System.Collections.IDictionary] $BoundParameters,
        [switch] $InputObjectIsIdentity
    )

    $identity = $null
    if ($InputObjectIsIdentity -and ($BoundParameters.Keys -contains 'InputObject')) { $identity = $BoundParameters['InputObject'] }
    $scope = [ordered]@{}
    foreach ($name in @('Location') + $script:AzsIgnoredScopeParameters) {
        $value = $null
        $source = "-$name"
        if ($BoundParameters.Keys -contains $name) {
            $value = $BoundParameters[$name]
        } else {
            $value = Get-AzsProperty -InputObject $identity -Name $name
            $source = "-InputObject's $name"
        }
        if (-not [string]::IsNullOrEmpty($value)) { $scope[$name] = @{ Value = [string]$value; Source = $source } }
    }
    $scope
}

function Assert-AzsAdminScope {
    <#
    Call first in a cmdlet that has Azs.Backup.Admin's scope parameters: a -Location (or an identity's
    Location) other than the deployment's is a terminating AzsBackup.LocationMismatch; a
    ResourceGroupName or SubscriptionId is reported on the verbose stream as ignored.
    -InputObjectIsIdentity: the cmdlet's -InputObject is such an identity, not a backup to act on.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [System.Collections.IDictionary] $BoundParameters,
        [switch] $InputObjectIsIdentity
    )

    $scope = Get-AzsRequestedScope -BoundParameters $BoundParameters -InputObjectIsIdentity:$InputObjectIsIdentity
    foreach ($name in $script:AzsIgnoredScopeParameters) {
        if ($scope.Contains($name)) {
            $Cmdlet.WriteVerbose("Ignoring $($scope[$name].Source) '$($scope[$name].Value)': it addresses Azure Resource Manager, " +
                'and this module acts on the deployment of its state folder only.')
        }
    }
    if (-not $scope.Contains('Location')) { return }
    $requested = $scope.Location
    $deployment = (Invoke-AzsRpc -Cmdlet $Cmdlet -Method 'daemon.status').location
    # Location names are case-insensitive in Azure Resource Manager; -ne compares them so.
    if ($requested.Value -ne $deployment) {
        $Cmdlet.ThrowTerminatingError((New-AzsErrorRecord -Reason 'LocationMismatch' -Target $requested.Value -Parameter 'Location' -Message (
                    "$($requested.Source) '$($requested.Value)' is not the location of this deployment, which is '$deployment' " +
                    "(state folder '$(Get-AzsStateDirectory)'). Give -Location '$deployment' or leave -Location out; " +
                    'to act on another deployment, set $env:AZSBACKUP_HOME to its state folder.')))
    }
    $Cmdlet.WriteVerbose("$($requested.Source) '$($requested.Value)' is this deployment's location.")
}
