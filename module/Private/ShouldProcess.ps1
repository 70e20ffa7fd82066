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
        elseif ($value -is [string]) { "$name='$(Hide-AzsUrlSecret -Text $value)'" }
        else { "$name=$value" }
    }
    $parts -join ', '
}

function Hide-AzsUrlSecret {
    <#
    A URL's query and user part hidden ("https://host/c?<hidden>"): a SAS token pasted into -Path
    is refused by the daemon, but the confirmation message would otherwise show its signature.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)] [AllowEmptyString()] [string] $Text)

    $Text -replace '^(https?://)[^/?#]*@', '$1<hidden>@' -replace '^(https?://[^?#]*)[?#].*$', '$1?<hidden>'
}
