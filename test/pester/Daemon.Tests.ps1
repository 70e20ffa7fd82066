# How the module finds, starts and recovers the daemon, and how its socket is protected. Each test
# has its own state folder and stops every daemon it started.

Describe 'The module and its daemon' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
    }

    BeforeEach {
        $stateDirectory = New-TestHome
    }

    AfterEach {
        Remove-TestHome -StateDirectory $stateDirectory
    }

    It 'starts the daemon when none is running' {
        (Get-TestDaemonStatus -StateDirectory $stateDirectory).running | Should -BeFalse
        Get-AzsBackupConfiguration | Should -Not -BeNullOrEmpty
        (Get-TestDaemonStatus -StateDirectory $stateDirectory).running | Should -BeTrue
    }

    It 'recovers when the daemon was killed (kill -9) between two cmdlets' {
        Set-AzsBackupConfiguration -BackupFrequencyInHours 5 | Out-Null
        $first = Get-TestDaemonStatus -StateDirectory $stateDirectory
        & kill -9 $first.pid
        # Bounded: a daemon that outlives kill -9 fails here, naming its process, instead of hanging the run.
        Get-Process -Id $first.pid -ErrorAction SilentlyContinue | Wait-Process -Timeout 30 -ErrorAction Stop
        (Get-AzsBackupConfiguration).BackupFrequencyInHours | Should -Be 5
        (Get-TestDaemonStatus -StateDirectory $stateDirectory).pid | Should -Not -Be $first.pid
    }

    It 'recovers when the daemon was stopped between two cmdlets' {
        Set-AzsBackupConfiguration -BackupRetentionPeriodInDays 4 | Out-Null
        Stop-TestDaemon -StateDirectory $stateDirectory
        (Get-AzsBackupConfiguration).BackupRetentionPeriodInDays | Should -Be 4
    }

    It 'listens on a socket of mode 0600 in a folder of mode 0700' {
        Get-AzsBackupConfiguration | Out-Null
        $socket = (Get-TestDaemonStatus -StateDirectory $stateDirectory).socket
        & stat -c '%a' $socket | Should -Be '600'
        & stat -c '%a' (Split-Path -Parent $socket) | Should -Be '700'
    }

    It 'uses $env:AZSBACKUP_SOCKET as the daemon''s endpoint' {
        # A folder that does not exist yet: the daemon creates it, mode 0700.
        $env:AZSBACKUP_SOCKET = Join-Path (Join-Path $stateDirectory 'sockets') 'custom.sock'
        Get-AzsBackupConfiguration | Out-Null
        (Get-TestDaemonStatus -StateDirectory $stateDirectory).socket | Should -Be $env:AZSBACKUP_SOCKET
        Test-Path -LiteralPath $env:AZSBACKUP_SOCKET | Should -BeTrue
    }

    It 'refuses a socket folder another user made first and sends nothing there (AzsBackup.EndpointNotPrivate)' {
        $shared = Join-Path $stateDirectory 'shared-tmp'
        $null = New-Item -ItemType Directory -Path $shared
        & chmod 1777 $shared
        & chmod 755 $stateDirectory
        $folder = Join-Path $shared 'azsbackup-0'
        $socketPath = Join-Path $folder 'daemon.sock'
        $received = Join-Path $shared 'received.txt'
        Set-Content -LiteralPath (Join-Path $stateDirectory 'token') -Value ('f' * 64)
        # As another local user: the folder and a listener that writes down whatever a client sends.
        $squatter = "const fs = require('fs'); fs.mkdirSync('$folder', { mode: 0o777 }); fs.chmodSync('$folder', 0o777);" +
            "require('net').createServer((c) => c.on('data', (d) => { fs.appendFileSync('$received', d); c.end(); }))" +
            ".listen('$socketPath', () => { fs.chmodSync('$socketPath', 0o777); fs.writeFileSync('$received', ''); });"
        $process = Start-Process -FilePath 'runuser' -ArgumentList @('-u', 'nobody', '--', (Get-Command node).Source, '-e', "`"$squatter`"") -RedirectStandardError (Join-Path $shared 'squatter.err') -PassThru
        try {
            $deadline = [datetime]::UtcNow.AddSeconds(20)
            while (-not (Test-Path -LiteralPath $received) -and [datetime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
            $env:AZSBACKUP_SOCKET = $socketPath
            $failure = { Get-AzsBackupConfiguration } | Should -Throw -ErrorId 'AzsBackup.EndpointNotPrivate,Get-AzsBackupConfiguration' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'SecurityError'
            $failure.Exception.Message | Should -Match ([regex]::Escape($folder))
            (Get-Content -Raw -LiteralPath $received) | Should -BeNullOrEmpty
        } finally {
            & kill $process.Id  # runuser passes SIGTERM on to the listener
            $null = $process.WaitForExit(10000)
        }
    }

    It 'fails with AzsBackup.Unauthorized when the daemon at the socket refuses this state folder''s token' {
        Get-AzsBackupConfiguration | Out-Null
        $otherHome = New-TestHome
        try {
            Get-AzsBackupConfiguration | Out-Null
            $env:AZSBACKUP_SOCKET = (Get-TestDaemonStatus -StateDirectory $stateDirectory).socket
            $failure = { Get-AzsBackupConfiguration } | Should -Throw -ErrorId 'AzsBackup.Unauthorized,Get-AzsBackupConfiguration' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'PermissionDenied'
        } finally {
            Remove-TestHome -StateDirectory $otherHome
        }
    }

    It 'fails with AzsBackup.DaemonUnavailable and the fix when the daemon cannot be started' {
        $file = Join-Path $stateDirectory 'a-file'
        Set-Content -LiteralPath $file -Value 'not a folder'
        $env:AZSBACKUP_HOME = Join-Path $file 'state'
        try {
            $failure = { Get-AzsBackupConfiguration } | Should -Throw -ErrorId 'AzsBackup.DaemonUnavailable,Get-AzsBackupConfiguration' -PassThru
        } finally {
            $env:AZSBACKUP_HOME = $stateDirectory
        }
        $failure.CategoryInfo.Category | Should -Be 'ConnectionError'
        $failure.Exception.Message | Should -Match 'AZSBACKUP_HOME'
    }

    It 'refuses a shared (1777) state folder with the fix, and leaves its mode alone' {
        $shared = Join-Path $stateDirectory 'shared'
        New-Item -ItemType Directory -Path $shared | Out-Null
        & chmod 1777 $shared
        $env:AZSBACKUP_HOME = $shared
        try {
            $failure = { Get-AzsBackupConfiguration } | Should -Throw -ErrorId 'AzsBackup.DaemonUnavailable,Get-AzsBackupConfiguration' -PassThru
        } finally {
            $env:AZSBACKUP_HOME = $stateDirectory
        }
        $failure.Exception.Message | Should -Match 'AZSBACKUP_HOME'
        $failure.Exception.Message | Should -Match 'mode 1777'
        & stat -c '%a' $shared | Should -Be '1777'
        @(Get-ChildItem -LiteralPath $shared -Force).Count | Should -Be 0
    }

    It 'returns as soon as the cmdlet does, with a daemon it started holding none of its output' {
        $command = "Import-Module '$($script:ManifestPath)'; (Get-AzsBackupConfiguration).BackupFrequencyInHours"
        $script = 'out=$(timeout 120 bash "$1" -NonInteractive -Command "$2"); rc=$?; echo "$rc:$out"'
        & bash -c $script 'capture' (Join-Path $script:RepoRoot 'scripts/pwsh.sh') $command | Should -Be '0:12'
    }

    It 'returns objects that survive serialisation with their type names and values' {
        Set-AzsBackupConfiguration -BackupFrequencyInHours 8 | Out-Null
        $file = Join-Path $stateDirectory 'location.xml'
        Get-AzsBackupConfiguration | Export-Clixml -LiteralPath $file
        $copy = Import-Clixml -LiteralPath $file
        $copy.PSObject.TypeNames[0] | Should -Be 'Deserialized.AzureStackBackup.BackupLocation'
        $copy.BackupFrequencyInHours | Should -Be 8
        ($copy | Format-List | Out-String) | Should -Match 'BackupFrequencyInHours\s+: 8'
    }
}
