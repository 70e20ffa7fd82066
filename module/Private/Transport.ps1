# The wire: a Unix domain socket (or a Windows named pipe) carrying JSON-RPC 2.0, one UTF-8 JSON
# message per line. Script only: .NET's Socket/NamedPipeClientStream, no compiled helper.

$script:AzsPipePrefix = '\\.\pipe\'
$script:AzsNextRequestId = 0
# This user's uid, asked once: the socket and its folder must be its own.
$script:AzsUserId = $null

function Open-AzsStream {
    [CmdletBinding()]
    [OutputType([System.IO.Stream])]
    param([Parameter(Mandatory)] [string] $Endpoint)

    if ($Endpoint.StartsWith($script:AzsPipePrefix, [System.StringComparison]::OrdinalIgnoreCase)) {
        $pipeName = $Endpoint.Substring($script:AzsPipePrefix.Length)
        $pipe = New-Object -TypeName System.IO.Pipes.NamedPipeClientStream -ArgumentList '.', $pipeName, ([System.IO.Pipes.PipeDirection]::InOut)
        try { $pipe.Connect(2000) } catch { $pipe.Dispose(); throw }
        return $pipe
    }
    Assert-AzsPrivateSocket -Path $Endpoint
    $socket = New-Object -TypeName System.Net.Sockets.Socket -ArgumentList (
        [System.Net.Sockets.AddressFamily]::Unix), ([System.Net.Sockets.SocketType]::Stream), ([System.Net.Sockets.ProtocolType]::Unspecified)
    try {
        $socket.Connect((New-Object -TypeName System.Net.Sockets.UnixDomainSocketEndPoint -ArgumentList $Endpoint))
    } catch {
        $socket.Dispose()
        throw
    }
    New-Object -TypeName System.Net.Sockets.NetworkStream -ArgumentList $socket, $true
}

function Assert-AzsPrivateSocket {
    <#
    Before anything is sent on a Unix socket (the token first, then passwords): the socket must be a
    socket owned by this user with mode 0600 or stricter, in a real folder (not a link) owned by this
    user that no other user may enter — as src/util/privateSocket.ts checks for the CLI. A listener
    another local user planted gets nothing. Throws AzsBackup.EndpointNotPrivate; returns quietly
    when the folder or the socket does not exist (then nothing listens, and connecting fails).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path)

    if ($null -eq $script:AzsUserId) { $script:AzsUserId = Get-AzsUserId }
    $folder = Split-Path -Parent $Path
    $target = $folder
    $problem = Get-AzsEndpointProblem -Path $folder -ItemType 'Directory' -ForbiddenBits 0x3F
    if ($problem -eq '') {
        $target = $Path
        $problem = Get-AzsEndpointProblem -Path $Path -ItemType 'Socket' -ForbiddenBits 0x7F
    }
    if (-not $problem) { return }
    $record = New-AzsErrorRecord -Reason 'EndpointNotPrivate' -Target $target -Parameter 'AZSBACKUP_SOCKET' -Message (
        "The daemon's endpoint '$target' $problem, so another local user could be listening there: nothing was sent to it. " +
        'Find out who made it and remove it (as root if another user owns it), or set $env:AZSBACKUP_SOCKET to a socket path ' +
        'in a folder only you can enter, and run the command again.')
    throw $record
}

function Get-AzsUserId {
    <# This process's effective uid: from /proc on Linux (no child process), else from `id -u`. #>
    [CmdletBinding()]
    [OutputType([long])]
    param()

    $status = Get-Content -LiteralPath '/proc/self/status' -ErrorAction SilentlyContinue | Where-Object { $_ -like 'Uid:*' }
    if ($status) { return [long](-split $status)[2] }
    [long](& id -u)
}

function Get-AzsEndpointProblem {
    <#
    What is wrong with Path itself (UnixStat is lstat: a link is not followed): the wrong kind of
    file, owner or mode; '' when nothing is; $null when it does not exist.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [string] $ItemType, [Parameter(Mandatory)] [int] $ForbiddenBits)

    $item = Get-Item -Force -LiteralPath $Path -ErrorAction SilentlyContinue
    if (-not $item) { return $null }
    $stat = Get-AzsProperty -InputObject $item -Name 'UnixStat'
    if (-not $stat) { return 'cannot be checked by this PowerShell (7.3 or later is needed on Linux and macOS)' }
    if ([string]$stat.ItemType -ne $ItemType) { return "is a $($stat.ItemType), not a $ItemType" }
    if ($stat.UserId -ne $script:AzsUserId) { return "belongs to uid $($stat.UserId), not to this user (uid $script:AzsUserId)" }
    if ($stat.Mode -band $ForbiddenBits) { return "has mode $([Convert]::ToString($stat.Mode -band 0xFFF, 8)), which lets other users in" }
    ''
}

function New-AzsConnection {
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Endpoint)

    $stream = Open-AzsStream -Endpoint $Endpoint
    $encoding = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
    $writer = New-Object -TypeName System.IO.StreamWriter -ArgumentList $stream, $encoding
    $writer.NewLine = "`n"
    @{
        Stream = $stream
        Reader = New-Object -TypeName System.IO.StreamReader -ArgumentList $stream, $encoding, $false
        Writer = $writer
    }
}

function Close-AzsConnection {
    [CmdletBinding()]
    param([AllowNull()] [hashtable] $Connection)

    if (-not $Connection) { return }
    foreach ($part in @($Connection.Writer, $Connection.Reader, $Connection.Stream)) {
        try { $part.Dispose() } catch { Write-Verbose "Closing the daemon connection: $($_.Exception.Message)" }
    }
}

function Read-AzsMessage {
    <#
    The next message, or $null when the daemon closed the connection. Waits in short slices so that
    Ctrl+C stops the cmdlet (closing the connection, which cancels the daemon's work for it).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [hashtable] $Connection)

    while ($true) {
        $pending = $Connection.Reader.ReadLineAsync()
        while (-not $pending.Wait(200)) { }
        $line = $pending.GetAwaiter().GetResult()
        if ($null -eq $line) { return $null }
        if ($line.Trim()) { return ConvertFrom-AzsJson -Json $line }
    }
}

function ConvertFrom-AzsJson {
    <# Parses JSON keeping date strings as strings on every edition (objects convert them knowingly). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Json)

    $options = @{}
    if ((Get-Command -Name ConvertFrom-Json).Parameters.ContainsKey('DateKind')) { $options.DateKind = 'String' }
    ConvertFrom-Json -InputObject $Json @options
}

function Invoke-AzsExchange {
    <#
    Sends one request and reads until its response, handing job.progress notifications for it to
    OnProgress. Returns the response message, or $null when the connection closed first.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [hashtable] $Connection,
        [Parameter(Mandatory)] [string] $Method,
        [System.Collections.IDictionary] $Params = @{},
        [scriptblock] $OnProgress
    )

    $script:AzsNextRequestId++
    $id = $script:AzsNextRequestId
    $Connection.Writer.WriteLine((ConvertTo-AzsRequestJson -Id $id -Method $Method -Params $Params))
    $Connection.Writer.Flush()
    while ($true) {
        $message = Read-AzsMessage -Connection $Connection
        if ($null -eq $message) { return $null }
        $notification = Get-AzsProperty -InputObject $message -Name 'method'
        if ($notification) {
            $update = Get-AzsProperty -InputObject $message -Name 'params'
            if ($OnProgress -and $notification -eq $script:AzsProtocol.notifications.progress -and
                (Get-AzsProperty -InputObject $update -Name 'requestId') -eq $id) {
                & $OnProgress $update
            }
            continue
        }
        if ((Get-AzsProperty -InputObject $message -Name 'id') -eq $id) { return $message }
    }
}

function ConvertTo-AzsRequestJson {
    <#
    The request line. A SecureString value becomes plain text only here, inside the JSON written to
    the socket: the BSTR is zeroed at once and no variable keeps the secret after the call.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [long] $Id,
        [Parameter(Mandatory)] [string] $Method,
        [System.Collections.IDictionary] $Params = @{}
    )

    $wireParams = [ordered]@{}
    foreach ($key in $Params.Keys) {
        $value = $Params[$key]
        if ($value -is [System.Security.SecureString]) {
            $value = ConvertFrom-AzsSecureString -SecureString $value
        } elseif ($value -is [System.Management.Automation.SwitchParameter]) {
            $value = $value.IsPresent
        }
        $wireParams[$key] = $value
    }
    $request = [ordered]@{ jsonrpc = '2.0'; id = $Id; method = $Method; params = $wireParams }
    ConvertTo-Json -InputObject $request -Compress -Depth 10
}

function ConvertFrom-AzsSecureString {
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)] [AllowNull()] [System.Security.SecureString] $SecureString)

    $bstr = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($SecureString)
    try {
        [System.Runtime.InteropServices.Marshal]::PtrToStringBSTR($bstr)
    } finally {
        [System.Runtime.InteropServices.Marshal]::ZeroFreeBSTR($bstr)
    }
}
