# Finding and starting the daemon of a state folder. The CLI (`azsbackup start --json`) owns the
# rules for where the daemon listens and how it is started detached; the module only asks it.

# The endpoint found last (state folder, socket, token file), so that later calls skip `start`.
$script:AzsEndpoint = $null

function Test-AzsWindows {
    [CmdletBinding()]
    [OutputType([bool])]
    param()
    [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
}

function Get-AzsStateDirectory {
    <# The state folder: AZSBACKUP_HOME, else the per-user default (as src/util/platform.ts). #>
    [CmdletBinding()]
    [OutputType([string])]
    param()

    if ($env:AZSBACKUP_HOME) { return [System.IO.Path]::GetFullPath($env:AZSBACKUP_HOME) }
    if (Test-AzsWindows) {
        $base = $env:LOCALAPPDATA
        if (-not $base) { $base = Join-Path (Join-Path $HOME 'AppData') 'Local' }
        return Join-Path $base 'AzureStackBackup'
    }
    $base = $env:XDG_STATE_HOME
    if (-not $base) { $base = Join-Path (Join-Path $HOME '.local') 'state' }
    Join-Path $base 'azsbackup'
}

function Get-AzsKnownEndpoint {
    <#
    The endpoint to try first without starting anything: the one found earlier for the same state
    folder and AZSBACKUP_SOCKET, or AZSBACKUP_SOCKET itself. $null when only `start` can tell.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $StateDirectory)

    $key = "$StateDirectory|$env:AZSBACKUP_SOCKET"
    if ($script:AzsEndpoint -and $script:AzsEndpoint.Key -eq $key) { return $script:AzsEndpoint }
    if ($env:AZSBACKUP_SOCKET) {
        return @{
            Key            = $key
            StateDirectory = $StateDirectory
            Socket         = $env:AZSBACKUP_SOCKET
            TokenFile      = Join-Path $StateDirectory 'token'
        }
    }
    $null
}

function Start-AzsDaemon {
    <#
    Runs `node <cli> start --json --state-dir <folder>`, which starts the daemon detached unless one
    answers, and remembers the endpoint it prints. Fails with AzsBackup.DaemonUnavailable.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [string] $StateDirectory
    )

    $node = Get-Command -Name 'node' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $node) {
        $Cmdlet.ThrowTerminatingError((New-AzsErrorRecord -Reason 'DaemonUnavailable' -Target $StateDirectory -Message (
                    "The AzureStackBackup daemon is not running and cannot be started: 'node' was not found. " +
                    'Install Node.js 20 or later, make sure node is on PATH, and run the command again.')))
    }
    if (-not (Test-Path -LiteralPath $script:AzsCliPath -PathType Leaf)) {
        $Cmdlet.ThrowTerminatingError((New-AzsErrorRecord -Reason 'DaemonUnavailable' -Target $script:AzsCliPath -Message (
                    "The AzureStackBackup daemon is not running and cannot be started: '$script:AzsCliPath' does not exist. " +
                    "Build the engine first: run 'npm ci' in '$(Split-Path -Parent $script:AzsManifestPath)'.")))
    }
    $output = @(& $node.Source $script:AzsCliPath 'start' '--json' '--state-dir' $StateDirectory 2>&1)
    $exitCode = $LASTEXITCODE
    # The CLI's JSON line (stdout); its stderr may come before or after it.
    $json = @($output | ForEach-Object { [string]$_ } | Where-Object { $_.StartsWith('{') }) | Select-Object -Last 1
    $reply = $null
    if ($json) { try { $reply = ConvertFrom-Json -InputObject $json } catch { $reply = $null } }
    $failure = Get-AzsProperty -InputObject $reply -Name 'error'
    if ((Get-AzsProperty -InputObject $failure -Name 'reason') -eq 'EndpointNotPrivate') {
        # The CLI found the socket's folder is not this user's alone: that, not "cannot start", is the news.
        $Cmdlet.ThrowTerminatingError((New-AzsErrorRecord -Reason 'EndpointNotPrivate' -Target $StateDirectory -Parameter 'AZSBACKUP_SOCKET' -Message $failure.message))
    }
    $started = if ($exitCode -eq 0) { $reply } else { $null }
    if (-not $started) {
        $detail = ($output | ForEach-Object { [string]$_ }) -join ' '
        $log = Join-Path (Join-Path $StateDirectory 'logs') 'daemon.log'
        $Cmdlet.ThrowTerminatingError((New-AzsErrorRecord -Reason 'DaemonUnavailable' -Target $StateDirectory -Message (
                    "The AzureStackBackup daemon for '$StateDirectory' could not be started (exit code $exitCode): $detail " +
                    "Check that the state folder can be created and written (or set AZSBACKUP_HOME to one that can), " +
                    "see '$log', and run the command again.")))
    }
    $script:AzsEndpoint = @{
        Key            = "$StateDirectory|$env:AZSBACKUP_SOCKET"
        StateDirectory = $StateDirectory
        Socket         = [string]$started.socket
        TokenFile      = [string]$started.tokenFile
    }
    $script:AzsEndpoint
}
