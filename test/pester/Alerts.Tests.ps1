# Get-AzsBackupAlert after real faults (the store folder renamed away), and how a failed backup
# reaches a script: a non-zero exit code and the error on stderr of pwsh -NonInteractive.

Describe 'Backup alerts' {
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
        $movedStore = "$($deployment.Store).moved"
    }

    AfterEach {
        Remove-TestHome -StateDirectory $deployment.StateDirectory
    }

    Context 'Get-AzsBackupAlert' {
        It 'returns nothing while nothing went wrong' {
            Start-AzsBackup -Force | Out-Null
            Get-AzsBackupAlert | Should -BeNullOrEmpty
        }

        It 'shows an active alert with its remediation after a backup failed on a missing store folder, and closes it at the next success' {
            Rename-Item -LiteralPath $deployment.Store -NewName $movedStore
            { Start-AzsBackup -Force } | Should -Throw -ErrorId 'AzsBackup.PathNotFound,Start-AzsBackup'

            $active = @(Get-AzsBackupAlert -State Active)
            $active.Count | Should -Be 1
            $alert = $active[0]
            $alert.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.Alert'
            $alert.AlertId | Should -Match '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            $alert.Severity | Should -Be 'Critical'
            $alert.State | Should -Be 'Active'
            $alert.Title | Should -Match 'path'
            $alert.Description | Should -Match ([regex]::Escape($deployment.Store))
            $alert.Remediation | Should -Match 'Set-AzsBackupConfiguration -Path'
            $alert.CreatedTime | Should -BeOfType [datetime]
            $alert.CreatedTime.Kind | Should -Be 'Utc'
            $alert.ClosedTime | Should -BeNullOrEmpty
            Get-AzsBackupAlert -State Closed | Should -BeNullOrEmpty
            ($alert | Format-List | Out-String) | Should -Match 'Remediation'

            Rename-Item -LiteralPath $movedStore -NewName (Split-Path -Leaf $deployment.Store)
            (Start-AzsBackup -Force).Status | Should -Be 'Succeeded'
            Get-AzsBackupAlert -State Active | Should -BeNullOrEmpty
            $closed = @(Get-AzsBackupAlert -State Closed)
            $closed.Count | Should -Be 1
            $closed[0].AlertId | Should -Be $alert.AlertId
            $closed[0].State | Should -Be 'Closed'
            $closed[0].ClosedTime.Kind | Should -Be 'Utc'
            $closed[0].ClosedTime | Should -BeGreaterOrEqual $closed[0].CreatedTime
        }

        It 'lists every alert, newest first, without -State' {
            Set-AzsBackupConfiguration -IsBackupSchedulerEnabled:$false | Out-Null
            Rename-Item -LiteralPath $deployment.Store -NewName $movedStore
            { Start-AzsBackup -Force } | Should -Throw
            $alerts = @(Get-AzsBackupAlert)
            $alerts.Count | Should -Be 2
            $alerts[0].Title | Should -Match 'path'
            $alerts[1].Title | Should -Match 'Automatic backups are disabled'
            $alerts[1].Severity | Should -Be 'Warning'
            $alerts[0].CreatedTime | Should -BeGreaterThan $alerts[1].CreatedTime
        }

        It 'refuses a -State other than Active or Closed before calling the daemon' {
            { Get-AzsBackupAlert -State 'Open' } | Should -Throw -ErrorId 'ParameterArgumentValidationError,Get-AzsBackupAlert'
        }
    }

    Context 'a backup with a failed role (PartialSucceeded)' {
        BeforeEach {
            Register-AzsInfrastructureRole -Name 'Broken' -Provider PowerShell -BackupScript { throw 'disk on fire' } -RestoreScript { 'nothing' } | Out-Null
        }

        It 'raises an alert naming the role with its remediation, warns per role, and closes the alert only after every role succeeds' {
            $backup = Start-AzsBackup -Force -WarningVariable warnings -WarningAction SilentlyContinue
            $backup.Status | Should -Be 'PartialSucceeded'
            @($warnings).Count | Should -Be 1
            [string]$warnings[0] | Should -Match 'Role Broken was not backed up: .*disk on fire'

            $alert = @(Get-AzsBackupAlert -State Active)
            $alert.Count | Should -Be 1
            $alert[0].Title | Should -Match 'partly failed'
            $alert[0].Severity | Should -Be 'Critical'
            $alert[0].BackupId | Should -Be $backup.BackupId
            $alert[0].Description | Should -Match 'Broken \(.*disk on fire'
            # Role names as words, case-sensitive: the backup id in the text is a GUID, which may hold 'ca'.
            $alert[0].Description | Should -Not -MatchExactly '\b(WAS|CA)\b'
            $alert[0].Remediation | Should -Match 'Role Broken: run its backup script'

            # Another partial backup keeps the same alert open.
            (Start-AzsBackup -Force -WarningAction SilentlyContinue).Status | Should -Be 'PartialSucceeded'
            @(Get-AzsBackupAlert -State Active).AlertId | Should -Be $alert[0].AlertId

            Unregister-AzsInfrastructureRole -Name 'Broken' -Confirm:$false | Out-Null
            (Start-AzsBackup -Force).Status | Should -Be 'Succeeded'
            Get-AzsBackupAlert -State Active | Should -BeNullOrEmpty
            (Get-AzsBackupAlert -State Closed).AlertId | Should -Be $alert[0].AlertId
        }

        It 'keeps an earlier failure alert open: only a backup of every role closes it' {
            Rename-Item -LiteralPath $deployment.Store -NewName $movedStore
            { Start-AzsBackup -Force } | Should -Throw -ErrorId 'AzsBackup.PathNotFound,Start-AzsBackup'
            Rename-Item -LiteralPath $movedStore -NewName (Split-Path -Leaf $deployment.Store)
            (Start-AzsBackup -Force -WarningAction SilentlyContinue).Status | Should -Be 'PartialSucceeded'
            $titles = @(Get-AzsBackupAlert -State Active).Title
            $titles.Count | Should -Be 2
            $titles -match 'path' | Should -HaveCount 1
            $titles -match 'partly failed' | Should -HaveCount 1
        }

        It 'exits 1 in pwsh -NonInteractive with -ErrorOnFailure, the warning and the error written; exits 0 without it' {
            $run = Invoke-PwshProcess -Command 'Import-Module ./AzureStackBackup.psd1; Start-AzsBackup -Force -ErrorOnFailure | Out-Null'
            $run.ExitCode | Should -Be 1
            $all = Get-FlatText -Text ($run.StdOut + $run.StdErr)
            $all | Should -Match 'RoleBrokenwasnotbackedup'
            $stderr = Get-FlatText -Text $run.StdErr
            $stderr | Should -Match 'Start-AzsBackup:'
            $stderr | Should -Match 'isPartialSucceeded:role\(s\)Brokenfailed'

            $plain = Invoke-PwshProcess -Command 'Import-Module ./AzureStackBackup.psd1; Start-AzsBackup -Force | Out-Null'
            $plain.ExitCode | Should -Be 0
            Get-FlatText -Text ($plain.StdOut + $plain.StdErr) | Should -Match 'RoleBrokenwasnotbackedup'
        }

        It 'returns the Backup and then throws AzsBackup.RoleFailed with -ErrorOnFailure; with -AsJob the job fails' {
            $output = @()
            $thrown = $null
            try {
                Start-AzsBackup -Force -ErrorOnFailure -WarningAction SilentlyContinue | ForEach-Object { $output += $_ }
            } catch {
                $thrown = $_
            }
            $thrown.FullyQualifiedErrorId | Should -Be 'AzsBackup.RoleFailed,Start-AzsBackup'
            $thrown.CategoryInfo.Category | Should -Be 'OperationStopped'
            $thrown.TargetObject | Should -Be $output[0].BackupId
            $output[0].Status | Should -Be 'PartialSucceeded'

            $job = Start-AzsBackup -AsJob -Force -ErrorOnFailure
            $job | Wait-Job -Timeout 300 | Out-Null
            $job.State | Should -Be 'Failed'
            $job.Output.Status | Should -Be 'PartialSucceeded'
            [string]$job.Warning[0] | Should -Match 'Role Broken was not backed up'
            $job.JobStateInfo.Reason.ErrorRecord.FullyQualifiedErrorId | Should -Be 'AzsBackup.RoleFailed,Start-AzsBackup'

            $plainJob = Start-AzsBackup -AsJob -Force
            $plainJob | Wait-Job -Timeout 300 | Out-Null
            $plainJob.State | Should -Be 'Completed'
            [string]$plainJob.Warning[0] | Should -Match 'Role Broken was not backed up'
            Remove-Job -Job $job, $plainJob -Force
        }

        It 'refuses -ErrorOnFailure with -NoWait' {
            { Start-AzsBackup -Force -NoWait -ErrorOnFailure } | Should -Throw -ErrorId 'AmbiguousParameterSet,Start-AzsBackup'
        }
    }

    Context 'a failed backup in pwsh -NonInteractive' {
        It 'exits non-zero with the error''s message on stderr when the store folder is missing' {
            Rename-Item -LiteralPath $deployment.Store -NewName $movedStore
            $run = Invoke-PwshProcess -Command 'Import-Module ./AzureStackBackup.psd1; Start-AzsBackup -Force'
            $run.ExitCode | Should -Not -Be 0
            $run.StdOut | Should -BeNullOrEmpty
            $stderr = Get-FlatText -Text $run.StdErr
            $stderr | Should -Match ([regex]::Escape((Get-FlatText -Text $deployment.Store)))
            $stderr | Should -Match 'doesnotexist'
            $stderr | Should -Match 'Start-AzsBackup:'
            (Get-AzsBackupAlert -State Active).Title | Should -Match 'path'
        }
    }
}
