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
