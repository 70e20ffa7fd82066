# Paths given to the daemon are absolute: the daemon has no idea of the caller's current location.

function Resolve-AzsPath {
    <#
    Resolves a relative file-system path against the cmdlet's current location. Share paths
    (\\server\share, //server/share), blob container URLs (http:// or https://) and empty values
    go to the daemon untouched.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [AllowEmptyString()] [string] $Path
    )

    if (-not $Path -or $Path -match '^(\\\\|//)[^\\/]|^https?://') { return $Path }
    $Cmdlet.GetUnresolvedProviderPathFromPSPath($Path)
}
