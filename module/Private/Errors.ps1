# ErrorRecords: the daemon's failures come with a reason from the error table in AzsProtocol.json
# (generated from src/protocol/errors.ts); the client adds the few failures only it can see.

# Failures the module itself detects: the daemon cannot be reached, it answered nonsense, a
# confirmation is needed that a non-interactive host cannot ask for, or an Azs.Backup.Admin
# -Location names another deployment's location (module/Private/AdminScope.ps1).
$script:AzsClientErrors = @{
    DaemonUnavailable    = 'ConnectionError'
    ProtocolViolation    = 'ProtocolError'
    ConfirmationRequired = 'InvalidOperation'
    LocationMismatch     = 'InvalidArgument'
}

# The .NET exception type behind each ErrorCategory, so that `catch [System.ArgumentException]` works.
$script:AzsExceptionTypes = @{
    InvalidArgument     = 'System.ArgumentException'
    ObjectNotFound      = 'System.Management.Automation.ItemNotFoundException'
    PermissionDenied    = 'System.UnauthorizedAccessException'
    SecurityError       = 'System.Security.SecurityException'
    AuthenticationError = 'System.Security.Authentication.AuthenticationException'
    ConnectionError     = 'System.IO.IOException'
    NotImplemented      = 'System.NotImplementedException'
}

function Get-AzsErrorCategory {
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorCategory])]
    param([Parameter(Mandatory)] [string] $Reason)

    $entry = $script:AzsProtocol.errors.PSObject.Properties[$Reason]
    $category = 'NotSpecified'
    if ($entry) {
        $category = $entry.Value.category
    } elseif ($script:AzsClientErrors.ContainsKey($Reason)) {
        $category = $script:AzsClientErrors[$Reason]
    }
    [System.Management.Automation.ErrorCategory]$category
}

function New-AzsErrorRecord {
    <# An ErrorRecord with id AzsBackup.<Reason>, the table's category, the target and the message. #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param(
        [Parameter(Mandatory)] [string] $Reason,
        [Parameter(Mandatory)] [string] $Message,
        [object] $Target,
        [string] $Parameter,
        [System.Exception] $InnerException
    )

    $category = Get-AzsErrorCategory -Reason $Reason
    $typeName = $script:AzsExceptionTypes[$category.ToString()]
    if (-not $typeName) { $typeName = 'System.InvalidOperationException' }
    if ($InnerException) {
        $exception = New-Object -TypeName $typeName -ArgumentList $Message, $InnerException
    } else {
        $exception = New-Object -TypeName $typeName -ArgumentList $Message
    }
    $exception.Data['AzsBackup.Reason'] = $Reason
    if ($Parameter) { $exception.Data['AzsBackup.Parameter'] = $Parameter }
    New-Object -TypeName System.Management.Automation.ErrorRecord -ArgumentList $exception, "AzsBackup.$Reason", $category, $Target
}

function ConvertFrom-AzsRpcError {
    <# Turns a JSON-RPC error object ({code, message, data: {reason, parameter?, target?}}) into an ErrorRecord. #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param([Parameter(Mandatory)] [psobject] $RpcError)

    $data = Get-AzsProperty -InputObject $RpcError -Name 'data'
    $reason = Get-AzsProperty -InputObject $data -Name 'reason'
    if (-not $reason) { $reason = Get-AzsReasonByCode -Code (Get-AzsProperty -InputObject $RpcError -Name 'code') }
    $parameter = Get-AzsProperty -InputObject $data -Name 'parameter'
    $target = Get-AzsProperty -InputObject $data -Name 'target'
    if ($null -eq $target) { $target = $parameter }
    New-AzsErrorRecord -Reason $reason -Message ([string](Get-AzsProperty -InputObject $RpcError -Name 'message')) -Target $target -Parameter $parameter
}

function Get-AzsReasonByCode {
    [CmdletBinding()]
    [OutputType([string])]
    param([object] $Code)

    foreach ($entry in $script:AzsProtocol.errors.PSObject.Properties) {
        if ($entry.Value.code -eq $Code) { return $entry.Name }
    }
    'InternalError'
}

function Get-AzsProperty {
    <# A property's value, or $null when the object lacks it (safe under Set-StrictMode). #>
    [CmdletBinding()]
    param([AllowNull()] [object] $InputObject, [Parameter(Mandatory)] [string] $Name)

    if ($null -eq $InputObject) { return $null }
    $property = $InputObject.PSObject.Properties[$Name]
    if ($property) { return $property.Value }
    $null
}
