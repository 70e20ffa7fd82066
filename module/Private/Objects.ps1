# The daemon's wire objects (src/protocol/objects.ts) as PowerShell objects: a type name
# AzureStackBackup.<Type> for the format views, dates as UTC DateTime, nested entries typed too.
# Plain property bags, so they survive remoting and Export-Clixml.

$script:AzsObjectShapes = @{
    BackupLocation         = @{ Dates = @('EncryptionCertExpiry', 'NextBackupTime', 'LastBackupTime'); Children = @{} }
    Backup                 = @{ Dates = @('CreatedDateTime'); Children = @{ RoleStatus = 'RoleStatus' }; Dictionaries = @('Tags') }
    RoleStatus             = @{ Dates = @(); Children = @{} }
    Role                   = @{ Dates = @('RegisteredTime'); Children = @{} }
    ShareTest              = @{ Dates = @(); Children = @{} }
    EncryptionCertificate  = @{ Dates = @('NotAfter'); Children = @{} }
    Alert                  = @{ Dates = @('CreatedTime', 'ClosedTime'); Children = @{} }
    BackupTestResult       = @{ Dates = @(); Children = @{} }
    PruneResult            = @{ Dates = @(); Children = @{} }
    BackupJob              = @{ Dates = @('StartTime', 'EndTime'); Children = @{ Roles = 'RoleStatus'; RoleMeasures = 'RoleMeasure' } }
    RoleMeasure            = @{ Dates = @(); Children = @{} }
    NotificationTarget     = @{ Dates = @('CreatedTime', 'LastDeliveryTime'); Children = @{} }
    NotificationTestResult = @{ Dates = @(); Children = @{} }
    ReportFile             = @{ Dates = @('GeneratedTime'); Children = @{} }
}

function ConvertTo-AzsObject {
    [CmdletBinding()]
    [OutputType([psobject])]
    param(
        [Parameter(Mandatory, ValueFromPipeline)] [psobject] $InputObject,
        [Parameter(Mandatory)] [ValidateScript({ $script:AzsObjectShapes.ContainsKey($_) })] [string] $Type
    )

    process {
        $shape = $script:AzsObjectShapes[$Type]
        $properties = [ordered]@{}
        foreach ($property in $InputObject.PSObject.Properties) {
            $value = $property.Value
            if ($shape.Dates -contains $property.Name) {
                $value = ConvertTo-AzsUtcDate -Value $value
            } elseif ($shape.ContainsKey('Dictionaries') -and $shape.Dictionaries -contains $property.Name) {
                # Tags, as Azure Stack gives them: a dictionary, whatever JSON made of it.
                $dictionary = @{}
                if ($null -ne $value) { foreach ($entry in $value.PSObject.Properties) { $dictionary[$entry.Name] = $entry.Value } }
                $value = $dictionary
            } elseif ($shape.Children.ContainsKey($property.Name)) {
                $children = $shape.Children[$property.Name]
                $value = [object[]]@(foreach ($item in @($value)) {
                        if ($null -ne $item) { ConvertTo-AzsObject -InputObject $item -Type $children }
                    })
            }
            $properties[$property.Name] = $value
        }
        $object = New-Object -TypeName psobject -Property $properties
        $object.PSObject.TypeNames.Insert(0, "AzureStackBackup.$Type")
        $object
    }
}

function ConvertTo-AzsUtcDate {
    <# An ISO-8601 UTC string (or a DateTime a JSON parser made of it) as a UTC DateTime; $null stays $null. #>
    [CmdletBinding()]
    param([AllowNull()] [object] $Value)

    if ($null -eq $Value -or ($Value -is [string] -and -not $Value)) { return $null }
    if ($Value -is [datetime]) { return $Value.ToUniversalTime() }
    $styles = [System.Globalization.DateTimeStyles]::AdjustToUniversal -bor [System.Globalization.DateTimeStyles]::AssumeUniversal
    [datetime]::Parse([string]$Value, [System.Globalization.CultureInfo]::InvariantCulture, $styles)
}

function Get-AzsNamedObject {
    <#
    Writes the objects a list method returns for each -Name pattern (every object without one), as
    the given type. A name without wildcards that matches nothing is a non-terminating
    <NotFoundReason> error naming the Name parameter, as Get-Item does for a missing path.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Caller,
        [Parameter(Mandatory)] [string] $Method,
        [Parameter(Mandatory)] [string] $ListProperty,
        [Parameter(Mandatory)] [string] $Type,
        [AllowNull()] [string[]] $Name,
        [Parameter(Mandatory)] [string] $NotFoundReason,
        [Parameter(Mandatory)] [scriptblock] $NotFoundMessage
    )

    if (-not $Name) {
        $answer = Invoke-AzsRpc -Cmdlet $Caller -Method $Method
        foreach ($item in @($answer.$ListProperty)) { ConvertTo-AzsObject -InputObject $item -Type $Type }
        return
    }
    foreach ($pattern in $Name) {
        $answer = Invoke-AzsRpc -Cmdlet $Caller -Method $Method -Params @{ Name = $pattern }
        $items = @($answer.$ListProperty)
        foreach ($item in $items) { ConvertTo-AzsObject -InputObject $item -Type $Type }
        if ($items.Count -eq 0 -and -not [System.Management.Automation.WildcardPattern]::ContainsWildcardCharacters($pattern)) {
            $Caller.WriteError((New-AzsErrorRecord -Reason $NotFoundReason -Target $pattern -Parameter 'Name' -Message ($pattern | ForEach-Object $NotFoundMessage)))
        }
    }
}
