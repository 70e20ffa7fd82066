# Get-AzsBackupJob against a real daemon and a local store: the job history with failed and
# cancelled backups (which Get-AzsBackup cannot show), its filters, and its format view.

Describe 'Get-AzsBackupJob' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
        $fixtures = New-TestFolder
        $certificate = New-TestCertificate -Folder $fixtures
        $stateDirectory = New-TestHome
        $store = (New-Item -ItemType Directory -Path (Join-Path $stateDirectory 'store')).FullName
        $data = New-TestRoleFolder -StateDirectory $stateDirectory -Name 'data'
        Set-Content -LiteralPath (Join-Path $data 'file.txt') -Value 'role data'
        Set-AzsBackupConfiguration -Path $store -EncryptionCertPath $certificate | Out-Null
        Register-AzsInfrastructureRole -Name 'WAS' -Provider Directory -Path $data | Out-Null
        $succeeded = Start-AzsBackup -Force

        # Four roles that never finish: three run at once, so one is still Queued when the job is cancelled.
        $slow = 1..4 | ForEach-Object { "Slow$_" }
        foreach ($name in $slow) {
            Register-AzsInfrastructureRole -Name $name -Provider PowerShell -BackupScript { Start-Sleep -Seconds 120 } -RestoreScript { 'nothing to restore' } | Out-Null
        }
        $job = Start-AzsBackup -AsJob -Force
        for ($attempt = 0; $attempt -lt 300 -and -not @(Get-AzsBackupJob -Outcome Running); $attempt++) { Start-Sleep -Milliseconds 200 }
        Start-Sleep -Seconds 1
        $job | Stop-Job
        $job | Remove-Job -Force
        for ($attempt = 0; $attempt -lt 300 -and @(Get-AzsBackupJob -Outcome Running); $attempt++) { Start-Sleep -Milliseconds 200 }
        foreach ($name in $slow) { Unregister-AzsInfrastructureRole -Name $name -Confirm:$false }
    }

    AfterAll {
        Remove-TestHome -StateDirectory $stateDirectory
        Remove-Item -LiteralPath $fixtures -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'returns every job newest first, typed, with UTC times and typed role entries' {
        $jobs = @(Get-AzsBackupJob)
        $jobs.Count | Should -Be 2
        $jobs[0].Outcome | Should -Be 'Cancelled'
        $jobs[1].JobId | Should -Be $succeeded.BackupId
        $jobs[1].Outcome | Should -Be 'Succeeded'
        foreach ($entry in $jobs) {
            $entry.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.BackupJob'
            $entry.Kind | Should -Be 'Backup'
            $entry.StartTime.Kind | Should -Be 'Utc'
            $entry.EndTime | Should -BeGreaterOrEqual $entry.StartTime
            foreach ($role in $entry.Roles) { $role.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.RoleStatus' }
        }
    }

    It 'shows a cancelled backup, which Get-AzsBackup does not, with no role left Queued or Running' {
        $cancelled = Get-AzsBackupJob -Outcome Cancelled
        @($cancelled).Count | Should -Be 1
        @(Get-AzsBackup).BackupId | Should -Not -Contain $cancelled.BackupId
        @($cancelled.Roles).Count | Should -Be 5
        foreach ($role in $cancelled.Roles | Where-Object RoleName -like 'Slow*') {
            $role.Status | Should -Be 'Failed' -Because "$($role.RoleName) ended with its job"
            $role.ErrorMessage | Should -Not -BeNullOrEmpty
        }
        @($cancelled.Roles | Where-Object Status -in 'Queued', 'Running') | Should -BeNullOrEmpty
    }

    It 'filters by -Outcome and -Kind (each taking several values) and keeps the newest -Top' {
        @(Get-AzsBackupJob -Outcome Succeeded).JobId | Should -Be @($succeeded.BackupId)
        @(Get-AzsBackupJob -Outcome Succeeded, Cancelled).Count | Should -Be 2
        Get-AzsBackupJob -Kind Restore | Should -BeNullOrEmpty
        @(Get-AzsBackupJob -Kind Backup, Restore).Count | Should -Be 2
        @(Get-AzsBackupJob -Top 1).Outcome | Should -Be @('Cancelled')
        @(Get-AzsBackupJob -Outcome Succeeded -Top 1).JobId | Should -Be @($succeeded.BackupId)
        Get-AzsBackupJob -Top 0 | Should -BeNullOrEmpty
    }

    It 'refuses an outcome or kind it does not know, and a negative -Top naming the parameter' {
        { Get-AzsBackupJob -Outcome Broken } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-AzsBackupJob'
        { Get-AzsBackupJob -Kind Copy } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-AzsBackupJob'
        $failure = { Get-AzsBackupJob -Top -1 } | Should -Throw -ErrorId 'AzsBackup.InvalidParameter,Get-AzsBackupJob' -PassThru
        $failure.Exception.Message | Should -Match 'Top'
    }

    It 'shows a table with the outcome and each role, and a list with every role''s error' {
        $table = Get-AzsBackupJob | Format-Table | Out-String -Width 300
        $table | Should -Match 'StartTime \(UTC\)'
        $table | Should -Match 'Cancelled'
        $table | Should -Match 'Slow1: Failed'
        $list = Get-AzsBackupJob -Outcome Cancelled | Format-List | Out-String -Width 300
        $list | Should -Match 'JobId'
        $list | Should -Match 'Slow4: Failed \(.+\)'
    }
}
