# The argument completers (module/Private/Completers.ps1) through TabExpansion2, as a Tab press
# runs them, against a real daemon with real backups; and what they do when no daemon runs, when
# the daemon refuses the token, and when it never answers.

Describe 'Argument completion' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
        $fixtures = New-TestFolder
        $certificate = New-TestCertificate -Folder $fixtures
        # Completion runs here, so that PowerShell's file-name fallback has nothing to offer.
        $emptyFolder = (New-Item -ItemType Directory -Path (Join-Path $fixtures 'empty')).FullName

        $stateDirectory = New-TestHome
        $data = New-TestRoleFolder -StateDirectory $stateDirectory -Name 'data'
        Set-Content -LiteralPath (Join-Path $data 'a.txt') -Value 'role data'
        $store = (New-Item -ItemType Directory -Path (Join-Path $stateDirectory 'store')).FullName
        Set-AzsBackupConfiguration -Path $store -EncryptionCertPath $certificate | Out-Null
        foreach ($name in 'WAS', 'CA', 'KeyVaultDataPlane') { Register-AzsInfrastructureRole -Name $name -Provider Directory -Path $data | Out-Null }
        $older = Start-AzsBackup -Force
        $newer = Start-AzsBackup -Force
        # Registered after the backups: offered for the deployment, not for a backup.
        Register-AzsInfrastructureRole -Name 'NRP' -Provider Directory -Path $data | Out-Null

        function Get-Completion([string] $Line) {
            Push-Location -LiteralPath $emptyFolder
            try { @((TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches) } finally { Pop-Location }
        }

        function Use-FreshModule {
            <# A module that has not talked to any daemon yet, as in a new session. #>
            Import-Module -Name $script:ManifestPath -Force
        }
    }

    AfterAll {
        Remove-TestHome -StateDirectory $stateDirectory
        Remove-Item -LiteralPath $fixtures -Recurse -Force -ErrorAction SilentlyContinue
    }

    Context 'with a running daemon' {
        BeforeEach {
            $env:AZSBACKUP_HOME = $stateDirectory
            Use-FreshModule
        }

        It 'completes -Name of <_> with the backup ids on the store, newest first' -ForEach 'Get-AzsBackup', 'Restore-AzsBackup', 'Test-AzsBackup' {
            $completions = Get-Completion "$_ -Name "
            @($completions.CompletionText) | Should -Be @($newer.BackupId, $older.BackupId)
            $completions[0].ResultType | Should -Be 'ParameterValue'
            $completions[0].ToolTip | Should -Match 'Succeeded'
        }

        It 'completes the id that starts with the typed prefix, quoted or not, and location/id once a / is typed' {
            $prefix = $older.BackupId.Substring(0, 8)
            @((Get-Completion "Get-AzsBackup -Name $prefix").CompletionText) | Should -Be @($older.BackupId)
            @((Get-Completion "Get-AzsBackup -Name '$prefix").CompletionText) | Should -Be @($older.BackupId)
            @((Get-Completion 'Get-AzsBackup -Name local/').CompletionText) | Should -Be @($newer.Name, $older.Name)
        }

        It 'completes -RoleName of Restore-AzsBackup with the roles of the backup named by -Name' {
            $completions = Get-Completion "Restore-AzsBackup -Name $($older.BackupId) -RoleName "
            @($completions.CompletionText) | Sort-Object | Should -Be @('CA', 'KeyVaultDataPlane', 'WAS')
            @((Get-Completion "Restore-AzsBackup -Name $($older.BackupId) -RoleName k").CompletionText) | Should -Be @('KeyVaultDataPlane')
        }

        It 'completes -RoleName of Restore-AzsBackup with the registered roles when no backup is named' {
            @((Get-Completion 'Restore-AzsBackup -RoleName ').CompletionText) | Sort-Object | Should -Be @('CA', 'KeyVaultDataPlane', 'NRP', 'WAS')
        }

        It 'completes -Name of <_> with the registered role names' -ForEach 'Get-AzsInfrastructureRole', 'Unregister-AzsInfrastructureRole' {
            @((Get-Completion "$_ -Name ").CompletionText) | Sort-Object | Should -Be @('CA', 'KeyVaultDataPlane', 'NRP', 'WAS')
            @((Get-Completion "$_ -Name N").CompletionText) | Should -Be @('NRP')
        }

        It 'completes nothing for a backup name that matches no backup' {
            Get-Completion "Restore-AzsBackup -Name $([guid]::NewGuid()) -RoleName " | Should -BeNullOrEmpty
        }

        It 'uses the endpoint an earlier cmdlet found' {
            Get-AzsBackupConfiguration -WarningAction SilentlyContinue | Out-Null
            @((Get-Completion 'Get-AzsBackup -Name ').CompletionText) | Should -Be @($newer.BackupId, $older.BackupId)
        }
    }

    Context 'when the daemon cannot answer' {
        BeforeEach {
            $otherHome = New-TestFolder
            $env:AZSBACKUP_HOME = $otherHome
            Use-FreshModule
        }

        AfterEach {
            Remove-Item -Path Env:AZSBACKUP_SOCKET -ErrorAction SilentlyContinue
            Stop-TestDaemon -StateDirectory $otherHome
            Remove-Item -LiteralPath $otherHome -Recurse -Force -ErrorAction SilentlyContinue
            $env:AZSBACKUP_HOME = $stateDirectory
        }

        It 'completes nothing and starts no daemon when none runs' {
            Get-Completion 'Get-AzsBackup -Name ' | Should -BeNullOrEmpty
            Get-Completion 'Get-AzsInfrastructureRole -Name ' | Should -BeNullOrEmpty
            (Get-TestDaemonStatus -StateDirectory $otherHome).running | Should -BeFalse
        }

        It 'completes nothing when the daemon refuses the token' {
            $env:AZSBACKUP_SOCKET = (Get-TestDaemonStatus -StateDirectory $stateDirectory).socket
            Set-Content -LiteralPath (Join-Path $otherHome 'token') -Value 'not-the-token'
            Get-Completion 'Get-AzsBackup -Name ' | Should -BeNullOrEmpty
        }

        It 'gives up and completes nothing when the daemon accepts the connection but never answers' {
            $socketPath = Join-Path $otherHome 'silent.sock'
            $listener = [System.Net.Sockets.Socket]::new([System.Net.Sockets.AddressFamily]::Unix, [System.Net.Sockets.SocketType]::Stream, [System.Net.Sockets.ProtocolType]::Unspecified)
            try {
                $listener.Bind([System.Net.Sockets.UnixDomainSocketEndPoint]::new($socketPath))
                $listener.Listen(4)
                # Private as the daemon's own, or the module would refuse it before connecting.
                & chmod 700 $otherHome
                & chmod 600 $socketPath
                $env:AZSBACKUP_SOCKET = $socketPath
                Set-Content -LiteralPath (Join-Path $otherHome 'token') -Value 'any-token'
                # In a thread job, so that a completer that hangs fails this test instead of the whole run.
                $job = Start-ThreadJob -ArgumentList $script:ManifestPath, $emptyFolder -ScriptBlock {
                    param($Manifest, $Folder)
                    Import-Module -Name $Manifest
                    Set-Location -LiteralPath $Folder
                    @((TabExpansion2 -inputScript 'Get-AzsBackup -Name ' -cursorColumn 20).CompletionMatches).Count
                }
                $finished = $job | Wait-Job -Timeout 120
                $finished | Should -Not -BeNullOrEmpty -Because 'the completer must give up on a silent daemon'
                $job | Receive-Job | Should -Be 0
                # The completer did reach the silent daemon: its connection waits in the backlog.
                $listener.Poll(0, [System.Net.Sockets.SelectMode]::SelectRead) | Should -BeTrue
            } finally {
                if ($job) { $job | Remove-Job -Force }
                $listener.Dispose()
            }
        }
    }
}
