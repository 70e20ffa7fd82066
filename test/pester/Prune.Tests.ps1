# Invoke-AzsPruneBackupLocationExternalStore against a real daemon and a local store holding real
# backups and hand-made leftovers of failed jobs.

Describe 'Invoke-AzsPruneBackupLocationExternalStore' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        . (Join-Path $PSScriptRoot 'DeploymentHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
        $fixtures = New-TestFolder
        $certificate = New-TestCertificate -Folder $fixtures
    }

    AfterAll {
        Remove-Item -LiteralPath $fixtures -Recurse -Force -ErrorAction SilentlyContinue
    }

    BeforeEach {
        $deployment = New-TestDeployment -CerPath $certificate
        $backup = Start-AzsBackup -Force
        $root = Join-Path $deployment.Store 'MASBackup'
        $backupFolder = (Get-Item -Path (Join-Path $root "*/$($backup.BackupId)")).FullName
        # A backup folder with no manifest, alone in an old timestamp folder: the folder goes whole.
        $oldStamp = Join-Path $root '20200101T000000Z'
        $orphan = Join-Path $oldStamp ([guid]::NewGuid().ToString())
        New-Item -ItemType Directory -Path (Join-Path $orphan 'CA') | Out-Null
        Set-Content -LiteralPath (Join-Path $orphan 'CA/CA.azsb') -Value 'partial upload'
        # A partial upload beside the files of a complete backup.
        $stray = Join-Path $backupFolder 'CA/CA.azsb.partial-1234'
        Set-Content -LiteralPath $stray -Value 'temp'
        $expected = @($oldStamp, $stray) | Sort-Object
    }

    AfterEach {
        Remove-TestHome -StateDirectory $deployment.StateDirectory
    }

    It 'lists the orphans with -OperationType DryRun and removes nothing' {
        $before = Get-FolderDigest -Folder $deployment.Store -WithTimes
        $result = Invoke-AzsPruneBackupLocationExternalStore -OperationType DryRun
        $result.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.PruneResult'
        @($result.PathsToDelete | Sort-Object) | Should -Be $expected
        Test-Path -LiteralPath (Join-Path $orphan 'CA/CA.azsb') | Should -BeTrue
        Get-FolderDigest -Folder $deployment.Store -WithTimes | Should -Be $before
    }

    It 'removes the orphans by default, keeps every complete backup whole, and finds nothing the second time' {
        $result = Invoke-AzsPruneBackupLocationExternalStore
        @($result.PathsToDelete | Sort-Object) | Should -Be $expected
        Test-Path -LiteralPath $oldStamp | Should -BeFalse
        Test-Path -LiteralPath $stray | Should -BeFalse
        (Get-AzsBackup).BackupId | Should -Be $backup.BackupId
        @(Test-AzsBackup -Name $backup.BackupId).Status | Should -Be @('Succeeded', 'Succeeded')
        $again = Invoke-AzsPruneBackupLocationExternalStore -OperationType DryRun
        $again.PathsToDelete.Count | Should -Be 0
    }

    It 'returns PathsToDelete as an array of strings even for one path, and shows each path in the list view' {
        Remove-Item -LiteralPath $stray
        $result = Invoke-AzsPruneBackupLocationExternalStore -OperationType DryRun
        , $result.PathsToDelete | Should -BeOfType [string[]]
        $result.PathsToDelete | Should -Be @($oldStamp)
        ($result | Format-List | Out-String) | Should -Match ([regex]::Escape($oldStamp))
    }

    It 'removes nothing with -WhatIf' {
        $before = Get-FolderDigest -Folder $deployment.Store -WithTimes
        Invoke-AzsPruneBackupLocationExternalStore -WhatIf | Should -BeNullOrEmpty
        Get-FolderDigest -Folder $deployment.Store -WithTimes | Should -Be $before
    }

    It 'fails with AzsBackup.NotConfigured when no store is configured' {
        Remove-TestHome -StateDirectory $deployment.StateDirectory
        $deployment.StateDirectory = New-TestHome
        { Invoke-AzsPruneBackupLocationExternalStore -OperationType DryRun } |
            Should -Throw -ErrorId 'AzsBackup.NotConfigured,Invoke-AzsPruneBackupLocationExternalStore'
    }
}

# A killed upload's folder (the daemon killed mid-backup) is removed by the next backup that
# completes, without a prune by hand; folders the deployment did not leave stay for prune.
Describe 'Failed uploads removed after the next backup' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        . (Join-Path $PSScriptRoot 'DeploymentHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
        $fixtures = New-TestFolder
        $certificate = New-TestCertificate -Folder $fixtures
    }

    AfterAll {
        Remove-Item -LiteralPath $fixtures -Recurse -Force -ErrorAction SilentlyContinue
    }

    BeforeEach {
        $deployment = New-TestDeployment -CerPath $certificate
        $root = Join-Path $deployment.Store 'MASBackup'
    }

    AfterEach {
        Remove-TestHome -StateDirectory $deployment.StateDirectory
    }

    It 'removes the folder of a backup killed mid-upload, logs it, and keeps complete backups and unknown folders' {
        $complete = Start-AzsBackup -Force
        # Not this deployment's: only prune by hand removes it.
        $unknown = Join-Path $root "20200101T000000Z/$([guid]::NewGuid())"
        New-Item -ItemType Directory -Path (Join-Path $unknown 'CA') | Out-Null

        Register-AzsInfrastructureRole -Name 'Slow' -Provider PowerShell -BackupScript { Start-Sleep -Seconds 30 } -RestoreScript { 'nothing' } | Out-Null
        $killed = Start-AzsBackup -NoWait -Force
        $uploaded = Join-Path $root "*/$($killed.BackupId)/WAS/WAS.azsb"
        for ($attempt = 0; $attempt -lt 300 -and -not (Test-Path -Path $uploaded); $attempt++) { Start-Sleep -Milliseconds 100 }
        Test-Path -Path $uploaded | Should -BeTrue
        $daemonPid = [int](Get-Content -Raw -LiteralPath (Join-Path $deployment.StateDirectory 'run/daemon.pid'))
        Stop-Process -Id $daemonPid -Force
        Wait-Process -Id $daemonPid -Timeout 30 -ErrorAction SilentlyContinue
        $killedFolder = (Get-Item -Path (Join-Path $root "*/$($killed.BackupId)")).FullName
        $killedStamp = Split-Path -Parent $killedFolder

        # The next cmdlet starts a new daemon, which records the killed job as Failed; the folder stays.
        Unregister-AzsInfrastructureRole -Name 'Slow' -Confirm:$false | Out-Null
        Test-Path -LiteralPath $killedFolder | Should -BeTrue

        $next = Start-AzsBackup -Force
        $next.Status | Should -Be 'Succeeded'
        Test-Path -LiteralPath $killedFolder | Should -BeFalse
        # Its timestamp folder goes with it, unless the complete backup started in the same second
        # (the folders are named to the second) and keeps it.
        if (Test-Path -LiteralPath $killedStamp) {
            @(Get-ChildItem -LiteralPath $killedStamp).Name | Should -Be @($complete.BackupId)
        }
        Test-Path -LiteralPath $unknown | Should -BeTrue
        @(Get-AzsBackup).BackupId | Sort-Object | Should -Be (@($complete.BackupId, $next.BackupId) | Sort-Object)
        @(Test-AzsBackup -Name $complete.BackupId).Status | Should -Be @('Succeeded', 'Succeeded')
        $log = Get-Content -Raw -Path (Join-Path $deployment.StateDirectory 'logs/daemon.log*')
        $log | Should -Match 'failed upload removed'
        $log | Should -Match ([regex]::Escape(($killedStamp | ConvertTo-Json)).Trim('"'))
    }
}
