# Descriptions for ShouldProcess messages; secrets are never shown.

function Format-AzsChange {
    <# "Path='/x', BackupFrequencyInHours=6, Password=<hidden>" for ShouldProcess messages. #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)] [System.Collections.IDictionary] $Change)

    if ($Change.Count -eq 0) { return 'no changes' }
    $parts = foreach ($name in $Change.Keys) {
        $value = $Change[$name]
        if ($value -is [System.Security.SecureString]) { "$name=<hidden>" }
        elseif ($value -is [string]) { "$name='$value'" }
        else { "$name=$value" }
    }
    $parts -join ', '
}
