# The module over PowerShell remoting, for real: a private sshd on a loopback port runs the
# PowerShell subsystem (real pwsh), and every cmdlet is called through Invoke-Command in an SSH
# PSSession that imports the module by absolute path and has its own state folder. The objects
# that come back are compared, property by property, with what the module returns locally for the
# same daemon.

Describe 'The module over PowerShell remoting (SSH)' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        . (Join-Path $PSScriptRoot 'SshHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force

        $remoteHome = New-TestFolder
        foreach ($role in 'WAS', 'CA') {
            $folder = New-TestRoleFolder -StateDirectory $remoteHome -Name "data-$role"
            1..5 | ForEach-Object { Set-Content -LiteralPath (Join-Path $folder "$role-$_.txt") -Value ("$role line $_`n" * 50) }
        }
        $pfxSecret = 'Remote-Pfx-' + [guid]::NewGuid().ToString('N')
        $server = Start-TestSshServer
        $session = New-TestSshSession -Server $server

        Invoke-Command -Session $session -ArgumentList $script:ManifestPath, $remoteHome -ScriptBlock {
            param($Manifest, $StateDirectory)
            $env:AZSBACKUP_HOME = $StateDirectory
            Import-Module -Name $Manifest
        }
        # The .pfx password travels as a SecureString argument, as an operator's $password would.
        $setup = Invoke-Command -Session $session -ArgumentList (ConvertTo-SecureString $pfxSecret -AsPlainText -Force) -ScriptBlock {
            param($PfxPassword)
            $stateDirectory = $env:AZSBACKUP_HOME
            $store = (New-Item -ItemType Directory -Path (Join-Path $stateDirectory 'store')).FullName
            $certificate = New-AzsBackupEncryptionCertificate -CerPath "$stateDirectory/backup.cer" -PfxPath "$stateDirectory/backup.pfx" -PfxPassword $PfxPassword
            $location = Set-AzsBackupConfiguration -Path $store -EncryptionCertPath $certificate.CerPath -BackupFrequencyInHours 6
            $roles = foreach ($name in 'WAS', 'CA') {
                Register-AzsInfrastructureRole -Name $name -Provider Directory -Path "$stateDirectory-roles/data-$name"
            }
            @{ Certificate = $certificate; Location = $location; Roles = $roles }
        }

        function Invoke-InSession([scriptblock] $ScriptBlock, [object[]] $ArgumentList = @()) {
            Invoke-Command -Session $session -ScriptBlock $ScriptBlock -ArgumentList $ArgumentList -ErrorAction Stop
        }

        function Get-LocalBackup([string] $BackupId) {
            <# The same backup read by this (local) pwsh from the same daemon, to compare with what remoting returned. #>
            $env:AZSBACKUP_HOME = $remoteHome
            Get-AzsBackup -Name $BackupId
        }

        function Assert-SameBackup($Remote, $Local) {
            <# Every property of the local Backup is on the deserialized one with the same value and type. #>
            $Remote.PSObject.TypeNames | Should -Contain 'Deserialized.AzureStackBackup.Backup'
            $names = @($Local.PSObject.Properties.Name)
            @($Remote.PSObject.Properties.Name | Where-Object { $_ -notin 'PSComputerName', 'RunspaceId', 'PSShowComputerName' }) |
                Sort-Object | Should -Be ($names | Sort-Object)
            foreach ($name in $names | Where-Object { $_ -ne 'RoleStatus' }) {
                if ($Local.$name -is [System.Collections.IDictionary]) {
                    # Should -Be compares dictionaries by reference: compare their contents.
                    ($Remote.$name | ConvertTo-Json -Compress) | Should -Be ($Local.$name | ConvertTo-Json -Compress) -Because "$name keeps its value"
                } else {
                    $Remote.$name | Should -Be $Local.$name -Because "$name keeps its value"
                }
                if ($null -ne $Local.$name) { $Remote.$name.GetType() | Should -Be $Local.$name.GetType() -Because "$name keeps its type" }
            }
            $Remote.CreatedDateTime | Should -BeOfType [datetime]
            $Remote.CreatedDateTime.Kind | Should -Be 'Utc'
            $Remote.BackupSizeInKb | Should -BeGreaterThan 0
            @($Remote.RoleStatus).Count | Should -Be @($Local.RoleStatus).Count
            foreach ($entry in $Remote.RoleStatus) {
                $entry.PSObject.TypeNames | Should -Contain 'Deserialized.AzureStackBackup.RoleStatus'
                $twin = @($Local.RoleStatus | Where-Object RoleName -eq $entry.RoleName)
                $twin.Count | Should -Be 1
                $entry.Status | Should -Be $twin[0].Status
                $entry.ErrorMessage | Should -Be $twin[0].ErrorMessage
            }
        }
    }

    AfterAll {
        if ($session) { Remove-PSSession -Session $session }
        Stop-TestSshServer -Server $server
        Remove-TestHome -StateDirectory $remoteHome
    }

    It 'configures the deployment in the session and returns a BackupLocation with typed values' {
        $setup.Location.PSObject.TypeNames | Should -Contain 'Deserialized.AzureStackBackup.BackupLocation'
        $setup.Location.Path | Should -Be (Join-Path $remoteHome 'store')
        $setup.Location.BackupFrequencyInHours.GetType() | Should -BeIn @([int], [long])
        $setup.Location.BackupFrequencyInHours | Should -Be 6
        $setup.Location.IsBackupSchedulerEnabled | Should -BeOfType [bool]
        $setup.Location.EncryptionCertThumbprint | Should -Be $setup.Certificate.Thumbprint
        $setup.Location.EncryptionCertExpiry | Should -BeOfType [datetime]
        $setup.Location.EncryptionCertExpiry.Kind | Should -Be 'Utc'
        $setup.Location.Password | Should -BeNullOrEmpty
        @($setup.Roles.Name) | Should -Be @('WAS', 'CA')
        $setup.Roles[0].PSObject.TypeNames | Should -Contain 'Deserialized.AzureStackBackup.Role'
        $setup.Roles[0].RegisteredTime | Should -BeOfType [datetime]
        # The SecureString argument arrived intact: the .pfx opens with the caller's password.
        [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($setup.Certificate.PfxPath, $pfxSecret).Thumbprint |
            Should -Be $setup.Certificate.Thumbprint
    }

    It 'backs up with Start-AzsBackup: the caller receives the progress of every role and the Backup with every property' {
        $job = Invoke-Command -Session $session -ScriptBlock { Start-AzsBackup -Force } -AsJob
        $job | Wait-Job -Timeout 300 | Out-Null
        $job.State | Should -Be 'Completed'
        $remote = @(Receive-Job -Job $job)
        $progress = @($job.ChildJobs[0].Progress)
        $job | Remove-Job
        $remote.Count | Should -Be 1
        $remote[0].Status | Should -Be 'Succeeded'
        @($progress | Where-Object { $_.ActivityId -eq 1 }) | Should -Not -BeNullOrEmpty
        @($progress | Where-Object { $_.ParentActivityId -eq 1 } | ForEach-Object Activity | Sort-Object -Unique) | Should -Be @('CA', 'WAS')
        Assert-SameBackup -Remote $remote[0] -Local (Get-LocalBackup -BackupId $remote[0].BackupId)
    }

    It 'runs Start-AzsBackup -AsJob inside the session; the job''s own Output holds the Backup' {
        $outcome = Invoke-InSession {
            $job = Start-AzsBackup -Force -AsJob
            $job | Wait-Job -Timeout 300 | Out-Null
            [pscustomobject]@{ State = [string]$job.State; BackupId = $job.Output.BackupId; Status = $job.Output.Status; HasBegun = $null -ne $job.PSBeginTime }
        }
        $outcome.State | Should -Be 'Completed'
        $outcome.HasBegun | Should -BeTrue
        $outcome.Status | Should -Be 'Succeeded'
        (Get-LocalBackup -BackupId $outcome.BackupId).Status | Should -Be 'Succeeded'
    }

    It 'lists the backups with Get-AzsBackup, newest first, exactly as the local module sees them' {
        $remote = @(Invoke-InSession { Get-AzsBackup })
        $env:AZSBACKUP_HOME = $remoteHome
        $local = @(Get-AzsBackup)
        $remote.Count | Should -BeGreaterOrEqual 2
        @($remote.BackupId) | Should -Be @($local.BackupId)
        for ($index = 0; $index -lt $local.Count; $index++) { Assert-SameBackup -Remote $remote[$index] -Local $local[$index] }
    }

    It 'returns a failing cmdlet''s error with its id and category' {
        $failure = { Invoke-InSession { Set-AzsBackupConfiguration -BackupFrequencyInHours 3 } } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -Be 'AzsBackup.InvalidRange,Set-AzsBackupConfiguration'
        $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $failure.Exception.Message | Should -Match '4.*12'
    }

    It 'lists the alerts with Get-AzsBackupAlert' {
        if (-not (Invoke-InSession { [bool](Get-Command -Name Get-AzsBackupAlert -ErrorAction SilentlyContinue) })) {
            Set-ItResult -Skipped -Because 'Get-AzsBackupAlert is not in the module yet'
            return
        }
        Invoke-InSession { Set-AzsBackupConfiguration -IsBackupSchedulerEnabled:$false -Force } | Out-Null
        $alerts = @(Invoke-InSession { Get-AzsBackupAlert -State Active })
        $disabled = @($alerts | Where-Object Title -Match 'disabled')
        $disabled.Count | Should -Be 1
        $disabled[0].PSObject.TypeNames | Should -Contain 'Deserialized.AzureStackBackup.Alert'
        $disabled[0].CreatedTime | Should -BeOfType [datetime]
        $disabled[0].Remediation | Should -Not -BeNullOrEmpty
        Invoke-InSession { Set-AzsBackupConfiguration -IsBackupSchedulerEnabled -Force } | Out-Null
    }

    It 'restores one role with Restore-AzsBackup -RoleName -Force and leaves the other as it is' {
        if (-not (Invoke-InSession { [bool](Get-Command -Name Restore-AzsBackup -ErrorAction SilentlyContinue) })) {
            Set-ItResult -Skipped -Because 'Restore-AzsBackup is not in the module yet'
            return
        }
        $lost = Join-Path "$remoteHome-roles" 'data-WAS/WAS-1.txt'
        $expected = Get-Content -Raw -LiteralPath $lost
        $changed = Join-Path "$remoteHome-roles" 'data-CA/CA-1.txt'
        Remove-Item -LiteralPath $lost
        Set-Content -LiteralPath $changed -Value 'changed after the backup'
        $backupId = (Invoke-InSession { Get-AzsBackup -Top 1 }).BackupId
        $restored = Invoke-InSession -ArgumentList $backupId, (ConvertTo-SecureString $pfxSecret -AsPlainText -Force) -ScriptBlock {
            param($BackupId, $PfxPassword)
            Restore-AzsBackup -Name $BackupId -RoleName 'WAS' -DecryptionCertPath "$env:AZSBACKUP_HOME/backup.pfx" -DecryptionCertPassword $PfxPassword -Force -PassThru
        }
        $restored | Should -BeTrue
        Get-Content -Raw -LiteralPath $lost | Should -Be $expected
        (Get-Content -Raw -LiteralPath $changed).Trim() | Should -Be 'changed after the backup'
    }

    It 'keeps its state between calls on the same session, as Enter-PSSession does' {
        # Enter-PSSession needs an interactive host; it runs each line in this same remote runspace.
        Invoke-InSession { $lastBackup = Get-AzsBackup -Top 1 }
        $kept = Invoke-InSession { [pscustomobject]@{ BackupId = $lastBackup.BackupId; Module = (Get-Module -Name AzureStackBackup).Path; Home = $env:AZSBACKUP_HOME } }
        $kept.BackupId | Should -Be (Invoke-InSession { (Get-AzsBackup -Top 1).BackupId })
        $kept.Module | Should -Not -BeNullOrEmpty
        $kept.Home | Should -Be $remoteHome
    }
}
