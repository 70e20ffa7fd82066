# Start-AzsBackup and Get-AzsBackup against a real daemon, a local store and real certificates.

Describe 'Backups' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
        $fixtures = New-TestFolder
        $certificate = New-TestCertificate -Folder $fixtures

        function Wait-TestBackup([string] $BackupId) {
            <# The backup once it has ended (with -NoWait it runs on in the daemon). #>
            for ($attempt = 0; $attempt -lt 600; $attempt++) {
                $found = Get-AzsBackup -Name $BackupId -ErrorAction SilentlyContinue
                if ($found -and $found.Status -notin 'Creating', 'Queued', 'Running') { return $found }
                Start-Sleep -Milliseconds 200
            }
            throw "Backup $BackupId did not end"
        }
    }

    AfterAll {
        Remove-Item -LiteralPath $fixtures -Recurse -Force -ErrorAction SilentlyContinue
    }

    BeforeEach {
        $stateDirectory = New-TestHome
        $store = (New-Item -ItemType Directory -Path (Join-Path $stateDirectory 'store')).FullName
        $data = New-TestRoleFolder -StateDirectory $stateDirectory -Name 'data'
        1..20 | ForEach-Object { Set-Content -LiteralPath (Join-Path $data "file$_.txt") -Value ("line $_`n" * 100) }
        Set-AzsBackupConfiguration -Path $store -EncryptionCertPath $certificate | Out-Null
        Register-AzsInfrastructureRole -Name 'WAS' -Provider Directory -Path $data | Out-Null
        Register-AzsInfrastructureRole -Name 'CA' -Provider Directory -Path $data | Out-Null
    }

    AfterEach {
        Remove-TestHome -StateDirectory $stateDirectory
    }

    Context 'Start-AzsBackup' {
        It 'backs up every role and returns the Backup with typed RoleStatus entries' {
            $backup = Start-AzsBackup -Force
            $backup.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.Backup'
            $backup.BackupId | Should -Match '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            $backup.Name | Should -Be "local/$($backup.BackupId)"
            $backup.Status | Should -Be 'Succeeded'
            $backup.IsCloudRecoveryReady | Should -BeTrue
            $backup.CreatedDateTime | Should -BeOfType [datetime]
            $backup.CreatedDateTime.Kind | Should -Be 'Utc'
            $backup.EncryptionCertThumbprint | Should -Be (Get-AzsBackupConfiguration).EncryptionCertThumbprint
            @($backup.RoleStatus).Count | Should -Be 2
            foreach ($entry in $backup.RoleStatus) {
                $entry.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.RoleStatus'
                $entry.Status | Should -Be 'Succeeded'
            }
            Get-ChildItem -LiteralPath (Join-Path $store 'MASBackup') -Recurse -Filter 'BackupInfo.json' | Should -Not -BeNullOrEmpty
        }

        It 'returns a job with -AsJob whose Output holds the Backup and whose progress names every role' {
            $job = Start-AzsBackup -AsJob -Force
            $job | Wait-Job -Timeout 300 | Out-Null
            $job.State | Should -Be 'Completed'
            $job.PSBeginTime | Should -Not -BeNullOrEmpty
            $job.Output.BackupId | Should -Match '^[0-9a-f-]{36}$'
            $roleBars = @($job.Progress | Where-Object { $_.ParentActivityId -eq 1 } | ForEach-Object Activity | Sort-Object -Unique)
            $roleBars | Should -Be @('CA', 'WAS')
            $job | Remove-Job
        }

        It 'returns the running Backup at once with -NoWait' {
            $running = Start-AzsBackup -NoWait -Force
            $running.BackupId | Should -Not -BeNullOrEmpty
            $running.Status | Should -BeIn @('Creating', 'Queued', 'Running', 'Succeeded')
            (Wait-TestBackup -BackupId $running.BackupId).Status | Should -Be 'Succeeded'
        }

        It 'fails at once with AzsBackup.BackupAlreadyRunning while a backup runs' {
            Register-AzsInfrastructureRole -Name 'Slow' -Provider PowerShell -BackupScript { Start-Sleep -Seconds 20 } -RestoreScript { 'nothing to restore' } | Out-Null
            $running = Start-AzsBackup -NoWait -Force
            $failure = { Start-AzsBackup -Force } | Should -Throw -ErrorId 'AzsBackup.BackupAlreadyRunning,Start-AzsBackup' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'ResourceBusy'
            $failure.Exception.Message | Should -Match $running.BackupId
        }

        It 'cancels the backup when the waiting cmdlet is stopped (Stop-Job): no backup left, and the next one succeeds' {
            $before = @(Get-AzsBackup).Count
            Register-AzsInfrastructureRole -Name 'Slow' -Provider PowerShell -BackupScript { Start-Sleep -Seconds 60 } -RestoreScript { 'nothing to restore' } | Out-Null
            $job = Start-AzsBackup -AsJob -Force
            $history = { (& node $script:CliPath jobs --json --state-dir $stateDirectory | ConvertFrom-Json).jobs }
            for ($attempt = 0; $attempt -lt 300 -and -not @(& $history | Where-Object Outcome -eq 'Running'); $attempt++) { Start-Sleep -Milliseconds 200 }
            $job | Stop-Job
            $job | Remove-Job -Force
            for ($attempt = 0; $attempt -lt 300 -and @(& $history | Where-Object Outcome -eq 'Running'); $attempt++) { Start-Sleep -Milliseconds 200 }
            @(& $history)[0].Outcome | Should -Be 'Cancelled'
            @(Get-AzsBackup).Count | Should -Be $before -Because 'a cancelled backup writes no manifest'
            Unregister-AzsInfrastructureRole -Name 'Slow' -Confirm:$false
            (Start-AzsBackup -Force).Status | Should -Be 'Succeeded'
        }

        It 'starts nothing with -WhatIf' {
            Start-AzsBackup -WhatIf | Should -BeNullOrEmpty
            Get-AzsBackup | Should -BeNullOrEmpty
        }
    }

    Context 'Get-AzsBackup' {
        BeforeEach {
            $older = Start-AzsBackup -Force
            $newer = Start-AzsBackup -Force
        }

        It 'lists the backups newest first' {
            @(Get-AzsBackup).BackupId | Should -Be @($newer.BackupId, $older.BackupId)
        }

        It 'finds one backup by id, by location/id and by wildcard, and from the pipeline' {
            (Get-AzsBackup -Name $older.BackupId).BackupId | Should -Be $older.BackupId
            (Get-AzsBackup -Name "local/$($older.BackupId)").BackupId | Should -Be $older.BackupId
            (Get-AzsBackup -Name ($older.BackupId.Substring(0, 8) + '*')).BackupId | Should -Be $older.BackupId
            ($newer | Get-AzsBackup).BackupId | Should -Be $newer.BackupId
        }

        It 'pages with -Top and -Skip' {
            @(Get-AzsBackup -Top 1).BackupId | Should -Be @($newer.BackupId)
            @(Get-AzsBackup -Skip 1).BackupId | Should -Be @($older.BackupId)
        }

        It 'reports a missing backup with AzsBackup.BackupNotFound' {
            $missing = [guid]::NewGuid().ToString()
            { Get-AzsBackup -Name $missing -ErrorAction Stop } | Should -Throw -ErrorId 'AzsBackup.BackupNotFound,Get-AzsBackup'
        }

        It 'returns backups whose RoleStatus survives serialisation to another process' {
            $received = Start-Job -ScriptBlock {
                param($Manifest)
                Import-Module -Name $Manifest
                Get-AzsBackup -Top 1
            } -ArgumentList $script:ManifestPath | Receive-Job -Wait -AutoRemoveJob
            $received.PSObject.TypeNames[0] | Should -Be 'Deserialized.AzureStackBackup.Backup'
            @($received.RoleStatus).RoleName | Sort-Object | Should -Be @('CA', 'WAS')
        }
    }
}
