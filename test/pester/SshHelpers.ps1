# A private OpenSSH server for remoting tests: Debian's sshd in the foreground on a free loopback
# port, with its own configuration, host key and authorized client key in a temp folder, and the
# PowerShell subsystem pointing at this machine's real pwsh. Stopped by its PID.

function Get-TestPwshPath {
    <# The real pwsh: on PATH, else the dotnet global tool. #>
    $onPath = Get-Command -Name 'pwsh' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($onPath) { return $onPath.Source }
    Join-Path $HOME '.dotnet/tools/pwsh'
}

function Get-TestDotnetRoot {
    <# The folder of the real dotnet executable, which a tool-installed pwsh needs as DOTNET_ROOT; $null without dotnet. #>
    if ($env:DOTNET_ROOT) { return $env:DOTNET_ROOT }
    $dotnet = Get-Command -Name 'dotnet' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $dotnet) { return $null }
    Split-Path -Parent (& readlink -f $dotnet.Source)
}

function Get-FreeLoopbackPort {
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}

function New-TestSshKey([string] $Path) {
    & ssh-keygen -q -t ed25519 -N '' -C 'azsbackup-test' -f $Path
    if ($LASTEXITCODE -ne 0) { throw "ssh-keygen could not create $Path" }
}

function Wait-TestSshServer([hashtable] $Server) {
    <# Waits (bounded) until sshd accepts connections on its port; fails with its log if it exits or never listens. #>
    for ($attempt = 0; $attempt -lt 100; $attempt++) {
        if ($Server.Process.HasExited) { break }
        $client = [System.Net.Sockets.TcpClient]::new()
        try {
            $client.Connect([System.Net.IPAddress]::Loopback, $Server.Port)
            return
        } catch {
            Start-Sleep -Milliseconds 100
        } finally {
            $client.Dispose()
        }
    }
    $log = Get-Content -Raw -LiteralPath $Server.Log -ErrorAction SilentlyContinue
    Stop-TestSshServer -Server $Server
    throw "sshd did not start on 127.0.0.1:$($Server.Port): $log"
}

function Start-TestSshServer {
    <#
    Starts sshd with key authentication only (root may log in: the tests run as root), and returns
    @{ Port; KeyFile; Options; ... } for New-TestSshSession.
    #>
    $sshd = '/usr/sbin/sshd'
    if (-not (Test-Path -LiteralPath $sshd)) { throw "$sshd is missing: run scripts/install-test-deps.sh (it installs openssh-server)." }
    $folder = Join-Path ([System.IO.Path]::GetTempPath()) ('azs-sshd-' + [guid]::NewGuid().ToString('N').Substring(0, 12))
    New-Item -ItemType Directory -Path $folder | Out-Null
    # sshd's privilege separation folder; Debian creates it only when its own service starts.
    New-Item -ItemType Directory -Path '/run/sshd' -Force | Out-Null
    New-TestSshKey -Path (Join-Path $folder 'host_key')
    New-TestSshKey -Path (Join-Path $folder 'client_key')
    Copy-Item -LiteralPath (Join-Path $folder 'client_key.pub') -Destination (Join-Path $folder 'authorized_keys')

    $subsystem = "$(Get-TestPwshPath) -sshs -NoLogo -NoProfile"
    $dotnetRoot = Get-TestDotnetRoot
    if ($dotnetRoot) { $subsystem = "/usr/bin/env DOTNET_ROOT=$dotnetRoot $subsystem" }
    $port = Get-FreeLoopbackPort
    $config = Join-Path $folder 'sshd_config'
    Set-Content -LiteralPath $config -Value @(
        'ListenAddress 127.0.0.1'
        "Port $port"
        "HostKey $folder/host_key"
        "PidFile $folder/sshd.pid"
        "AuthorizedKeysFile $folder/authorized_keys"
        'PasswordAuthentication no'
        'KbdInteractiveAuthentication no'
        'UsePAM no'
        # The key files live in a temp folder that sshd's ownership checks would refuse.
        'StrictModes no'
        # The tests run as root.
        'PermitRootLogin yes'
        "Subsystem powershell $subsystem"
    )
    $log = Join-Path $folder 'sshd.log'
    $process = Start-Process -FilePath $sshd -ArgumentList '-D', '-e', '-f', $config -PassThru -RedirectStandardInput '/dev/null' `
        -RedirectStandardOutput (Join-Path $folder 'sshd.out') -RedirectStandardError $log
    $server = @{
        Folder  = $folder
        Port    = $port
        KeyFile = Join-Path $folder 'client_key'
        Process = $process
        Log     = $log
        Options = @{ StrictHostKeyChecking = 'no'; UserKnownHostsFile = '/dev/null'; LogLevel = 'ERROR' }
    }
    Wait-TestSshServer -Server $server
    $server
}

function Stop-TestSshServer([hashtable] $Server) {
    <# Ends sshd by its PID (SIGTERM, then SIGKILL if it lingers) and removes its folder. #>
    if (-not $Server) { return }
    $process = $Server.Process
    if ($process -and -not $process.HasExited) {
        & kill -TERM $process.Id
        if (-not $process.WaitForExit(10000)) { $process.Kill() }
    }
    Remove-Item -LiteralPath $Server.Folder -Recurse -Force -ErrorAction SilentlyContinue
}

function New-TestSshSession([hashtable] $Server) {
    New-PSSession -HostName 127.0.0.1 -Port $Server.Port -UserName ([System.Environment]::UserName) -KeyFilePath $Server.KeyFile -SSHTransport -Options $Server.Options -ErrorAction Stop
}
