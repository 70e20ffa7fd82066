# The RPC client the cmdlets call: find (or start) the daemon, authenticate, make one request, and
# turn the answer into a result or an ErrorRecord. One connection per call, so a daemon restarted
# or killed between two cmdlets is simply found (or started) again by the next one.

function Invoke-AzsRpc {
    <#
    Calls Method with Params (PascalCase keys; SecureString values stay secure until the wire) and
    returns the result. A daemon error becomes the cmdlet's terminating error (or, with
    -NonTerminating, a non-terminating one for the current item).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [string] $Method,
        [System.Collections.IDictionary] $Params = @{},
        [scriptblock] $OnProgress,
        [switch] $NonTerminating
    )

    Assert-AzsMethod -Cmdlet $Cmdlet -Method $Method
    $connection = Connect-AzsDaemon -Cmdlet $Cmdlet
    $response = $null
    $lostBecause = $null
    try {
        $response = Invoke-AzsExchange -Connection $connection -Method $Method -Params $Params -OnProgress $OnProgress
    } catch {
        $lostBecause = $_.Exception
    } finally {
        Close-AzsConnection -Connection $connection
    }
    if ($null -eq $response) {
        $why = 'it closed the connection'
        if ($lostBecause) { $why = $lostBecause.GetBaseException().Message }
        $Cmdlet.ThrowTerminatingError((New-AzsErrorRecord -Reason 'DaemonUnavailable' -Target $Method -InnerException $lostBecause -Message (
                    "The daemon stopped answering during $Method ($why). It may have been stopped or restarted; " +
                    "run the command again, and see the daemon log under '$(Get-AzsStateDirectory)' if it happens again.")))
    }
    $failure = Get-AzsProperty -InputObject $response -Name 'error'
    if ($failure) {
        $record = ConvertFrom-AzsRpcError -RpcError $failure
        if ($NonTerminating) {
            $Cmdlet.WriteError($record)
            return
        }
        $Cmdlet.ThrowTerminatingError($record)
    }
    $response.PSObject.Properties['result'].Value
}

function Assert-AzsMethod {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [string] $Method
    )

    if ($script:AzsProtocol.methods.PSObject.Properties[$Method]) { return }
    $Cmdlet.ThrowTerminatingError((New-AzsErrorRecord -Reason 'ProtocolViolation' -Target $Method -Message (
                "The module called '$Method', which the daemon's protocol does not define. " +
                "Rebuild with 'npm run build' so that module/Private/AzsProtocol.json matches the module.")))
}

function Connect-AzsDaemon {
    <# An authenticated connection to the daemon of the state folder, starting the daemon if none answers. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet)

    $stateDirectory = Get-AzsStateDirectory
    $session = $null
    $endpoint = Get-AzsKnownEndpoint -StateDirectory $stateDirectory
    if ($endpoint) { $session = Open-AzsSession -Endpoint $endpoint }
    if (-not $session) {
        $endpoint = Start-AzsDaemon -Cmdlet $Cmdlet -StateDirectory $stateDirectory
        $session = Open-AzsSession -Endpoint $endpoint
    }
    if ($session -and $session.Contains('Unsafe')) { $Cmdlet.ThrowTerminatingError($session.Unsafe) }
    if (-not $session) {
        $Cmdlet.ThrowTerminatingError((New-AzsErrorRecord -Reason 'DaemonUnavailable' -Target $endpoint.Socket -Message (
                    "The daemon for '$stateDirectory' was started but does not answer on '$($endpoint.Socket)'. " +
                    "Stop it with 'azsbackup stop --state-dir `"$stateDirectory`"', check its log under '$stateDirectory', and run the command again.")))
    }
    if ($session.Contains('Refusal')) {
        $Cmdlet.ThrowTerminatingError((ConvertFrom-AzsRpcError -RpcError $session.Refusal))
    }
    $session.Connection
}

function Open-AzsSession {
    <#
    Connects and authenticates with the state folder's token. Returns @{ Connection } on success,
    @{ Refusal } when the daemon answered but refused the token, @{ Unsafe } (an ErrorRecord) when
    the socket or its folder is not this user's alone (nothing was sent), or $null when nothing answered.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [hashtable] $Endpoint)

    $connection = $null
    try {
        $connection = New-AzsConnection -Endpoint $Endpoint.Socket
        $reply = Invoke-AzsExchange -Connection $connection -Method 'session.authenticate' -Params @{
            token = [System.IO.File]::ReadAllText($Endpoint.TokenFile).Trim()
        }
    } catch {
        if ($_.FullyQualifiedErrorId -eq 'AzsBackup.EndpointNotPrivate') { return @{ Unsafe = $_ } }
        Write-Verbose "No daemon answered on '$($Endpoint.Socket)': $($_.Exception.GetBaseException().Message)"
        Close-AzsConnection -Connection $connection
        return $null
    }
    if ($null -eq $reply) {
        Close-AzsConnection -Connection $connection
        return $null
    }
    $refusal = Get-AzsProperty -InputObject $reply -Name 'error'
    if ($refusal) {
        Close-AzsConnection -Connection $connection
        return @{ Refusal = $refusal }
    }
    @{ Connection = $connection }
}
