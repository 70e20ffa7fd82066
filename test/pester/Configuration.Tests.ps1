# Set-AzsBackupConfiguration and Get-AzsBackupConfiguration against a real daemon, each test with
# its own state folder (AZSBACKUP_HOME) whose daemon is stopped at the end.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Import-Module -Name $script:ManifestPath -Force
    $fixtures = New-TestFolder
    $certificate = New-TestCertificate -Folder $fixtures
    $expiredCertificate = New-ExpiredTestCertificate -Folder $fixtures
    $soonExpiringCertificate = New-TestCertificate -Folder $fixtures -Days 10 -Name 'soon'
    $textFile = Join-Path $fixtures 'notes.txt'
    Set-Content -LiteralPath $textFile -Value 'this is not a certificate'
    $pfx = Join-Path $fixtures 'test.pfx'
    & openssl pkcs12 -export -in $certificate -inkey (Join-Path $fixtures 'test.key') -out $pfx -passout pass:pfx-secret 2>$null
}

AfterAll {
    Remove-Item -LiteralPath $fixtures -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'The backup configuration' {
    BeforeEach {
        $stateDirectory = New-TestHome
        $store = (New-Item -ItemType Directory -Path (Join-Path $stateDirectory 'store')).FullName
    }

    AfterEach {
        Remove-TestHome -StateDirectory $stateDirectory
    }

    Describe 'Get-AzsBackupConfiguration' {
        It 'returns the defaults, with Path $null and no error, before the first configuration' {
            $location = Get-AzsBackupConfiguration -ErrorAction Stop
            $location.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.BackupLocation'
            $location.Path | Should -BeNullOrEmpty
            $location.BackupFrequencyInHours | Should -Be 12
            $location.BackupRetentionPeriodInDays | Should -Be 7
            $location.IsBackupSchedulerEnabled | Should -BeTrue
            $location.Password | Should -BeNullOrEmpty
            $location.EncryptionCertExpiry | Should -BeNullOrEmpty
        }

        It 'returns a saved certificate''s expiry as a UTC DateTime' {
            Set-AzsBackupConfiguration -EncryptionCertPath $certificate | Out-Null
            $expiry = (Get-AzsBackupConfiguration).EncryptionCertExpiry
            $expiry | Should -BeOfType [datetime]
            $expiry.Kind | Should -Be 'Utc'
            $expected = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($certificate).NotAfter.ToUniversalTime()
            [math]::Abs(($expiry - $expected).TotalSeconds) | Should -BeLessThan 1
        }
    }

    Describe 'Set-AzsBackupConfiguration' {
        It 'saves the store, the certificate and the schedule, and Get-AzsBackupConfiguration returns them' {
            $saved = Set-AzsBackupConfiguration -Path $store -EncryptionCertPath $certificate -BackupFrequencyInHours 6 -BackupRetentionPeriodInDays 10
            $saved.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.BackupLocation'
            $location = Get-AzsBackupConfiguration
            $location.Path | Should -Be $store
            $location.EncryptionCertThumbprint | Should -Match '^[0-9A-F]{40}$'
            $location.EncryptionCertThumbprint | Should -Be ([System.Security.Cryptography.X509Certificates.X509Certificate2]::new($certificate).Thumbprint)
            $location.BackupFrequencyInHours | Should -Be 6
            $location.BackupRetentionPeriodInDays | Should -Be 10
            $location.AvailableCapacity | Should -Match '^\d+(\.\d+)? [KMGTP]?B$'
        }

        It 'resolves relative -Path and -EncryptionCertPath against the current location' {
            Copy-Item -LiteralPath $certificate -Destination (Join-Path $stateDirectory 'here.cer')
            Push-Location -LiteralPath $stateDirectory
            try {
                $saved = Set-AzsBackupConfiguration -Path './store' -EncryptionCertPath 'here.cer'
            } finally {
                Pop-Location
            }
            $saved.Path | Should -Be $store
            $saved.EncryptionCertThumbprint | Should -Match '^[0-9A-F]{40}$'
        }

        It 'changes only the values it is given' {
            Set-AzsBackupConfiguration -Path $store -BackupFrequencyInHours 6 | Out-Null
            Set-AzsBackupConfiguration -BackupRetentionPeriodInDays 3 | Out-Null
            $location = Get-AzsBackupConfiguration
            $location.Path | Should -Be $store
            $location.BackupFrequencyInHours | Should -Be 6
            $location.BackupRetentionPeriodInDays | Should -Be 3
        }

        It 'switches the scheduler off with -IsBackupSchedulerEnabled:$false and on again' {
            (Set-AzsBackupConfiguration -IsBackupSchedulerEnabled:$false).IsBackupSchedulerEnabled | Should -BeFalse
            (Get-AzsBackupConfiguration).IsBackupSchedulerEnabled | Should -BeFalse
            (Set-AzsBackupConfiguration -IsBackupSchedulerEnabled).IsBackupSchedulerEnabled | Should -BeTrue
        }

        It 'accepts -BackupShare and -Credential as conveniences' {
            $credential = [pscredential]::new('CONTOSO\backupadmin', (ConvertTo-SecureString 'Sh4re-Passw0rd' -AsPlainText -Force))
            $saved = Set-AzsBackupConfiguration -BackupShare $store -Credential $credential
            $saved.Path | Should -Be $store
            $saved.UserName | Should -Be 'CONTOSO\backupadmin'
            $saved.Password | Should -BeNullOrEmpty
        }

        It 'never returns the password and keeps no clear text of it under the state folder' {
            $secret = 'Unusual-Share-Passw0rd-' + [guid]::NewGuid().ToString('N')
            $saved = Set-AzsBackupConfiguration -Path $store -UserName 'backupadmin' -Password (ConvertTo-SecureString $secret -AsPlainText -Force)
            $saved.Password | Should -BeNullOrEmpty
            (Get-AzsBackupConfiguration).Password | Should -BeNullOrEmpty
            Get-FilesContaining -Folder $stateDirectory -Text $secret | Should -BeNullOrEmpty
        }

        It 'keeps the saved values when a BackupLocation comes from the pipeline' {
            Set-AzsBackupConfiguration -Path $store -UserName 'backupadmin' -Password (ConvertTo-SecureString 'pw' -AsPlainText -Force) -EncryptionCertPath $certificate -BackupFrequencyInHours 5 -IsBackupSchedulerEnabled:$false | Out-Null
            $before = Get-ConfigurationJson
            Get-AzsBackupConfiguration | Set-AzsBackupConfiguration | Out-Null
            Get-ConfigurationJson | Should -Be $before
        }

        It 'takes the piped BackupLocation with parameters that override it' {
            Set-AzsBackupConfiguration -Path $store -BackupFrequencyInHours 5 | Out-Null
            $saved = Get-AzsBackupConfiguration | Set-AzsBackupConfiguration -BackupFrequencyInHours 8
            $saved.BackupFrequencyInHours | Should -Be 8
            $saved.Path | Should -Be $store
        }

        It 'changes nothing with -WhatIf' {
            Set-AzsBackupConfiguration -Path $store | Out-Null
            $before = Get-ConfigurationJson
            Set-AzsBackupConfiguration -BackupFrequencyInHours 4 -EncryptionCertPath $certificate -WhatIf | Should -BeNullOrEmpty
            Get-AzsBackupConfiguration | Set-AzsBackupConfiguration -IsBackupSchedulerEnabled:$false -WhatIf
            Get-ConfigurationJson | Should -Be $before
        }

        It 'returns a job whose Output holds the BackupLocation with -AsJob' {
            $job = Set-AzsBackupConfiguration -Path $store -BackupFrequencyInHours 7 -AsJob
            $job | Should -BeOfType [System.Management.Automation.Job]
            $job | Wait-Job -Timeout 120 | Out-Null
            $job.State | Should -Be 'Completed'
            $job.PSBeginTime | Should -Not -BeNullOrEmpty
            $job.Output.BackupFrequencyInHours | Should -Be 7
            $job | Remove-Job
            (Get-AzsBackupConfiguration).BackupFrequencyInHours | Should -Be 7
        }

        It 'writes the daemon''s warning for a certificate that expires within 30 days' {
            $saved = Set-AzsBackupConfiguration -EncryptionCertPath $soonExpiringCertificate -WarningVariable warnings -WarningAction SilentlyContinue
            $saved.EncryptionCertThumbprint | Should -Match '^[0-9A-F]{40}$'
            "$warnings" | Should -Match 'expires'
        }

        It 'writes azsbackup.prom to -MetricsPath, shows MetricsPath, and removes the file when given an empty string' {
            $metrics = (New-Item -ItemType Directory -Path (Join-Path $stateDirectory 'metrics')).FullName
            $saved = Set-AzsBackupConfiguration -Path $store -EncryptionCertPath $certificate -MetricsPath $metrics
            $saved.MetricsPath | Should -Be $metrics
            (Get-AzsBackupConfiguration).MetricsPath | Should -Be $metrics
            (Get-AzsBackupConfiguration | Format-List | Out-String) | Should -Match 'MetricsPath\s*:\s*\S'
            $file = Join-Path $metrics 'azsbackup.prom'
            Get-Content -LiteralPath $file -Raw | Should -Match '(?m)^azsbackup_scheduler_enabled\{location="[^"]+"\} 1$'
            (Set-AzsBackupConfiguration -MetricsPath '').MetricsPath | Should -BeNullOrEmpty
            Test-Path -LiteralPath $file | Should -BeFalse
        }

        Context 'refuses bad input with a clear error and saves nothing' {
            BeforeEach {
                Set-AzsBackupConfiguration -Path $store -EncryptionCertPath $certificate | Out-Null
                $before = Get-ConfigurationJson
            }

            AfterEach {
                Get-ConfigurationJson | Should -Be $before
            }

            It '<Parameter> <Value> fails with AzsBackup.InvalidRange naming <Min> and <Max>' -ForEach @(
                @{ Parameter = 'BackupFrequencyInHours'; Value = 3; Min = 4; Max = 12 }
                @{ Parameter = 'BackupFrequencyInHours'; Value = 13; Min = 4; Max = 12 }
                @{ Parameter = 'BackupRetentionPeriodInDays'; Value = 1; Min = 2; Max = 14 }
                @{ Parameter = 'BackupRetentionPeriodInDays'; Value = 15; Min = 2; Max = 14 }
            ) {
                $arguments = @{ $Parameter = $Value }
                $failure = { Set-AzsBackupConfiguration @arguments } |
                    Should -Throw -ErrorId 'AzsBackup.InvalidRange,Set-AzsBackupConfiguration' -PassThru
                $failure.Exception.Message | Should -Match "$Parameter must be between $Min and $Max"
                $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
                $failure.Exception | Should -BeOfType [System.ArgumentException]
            }

            It 'a certificate file that does not exist fails with AzsBackup.CertificateNotFound' {
                $missing = Join-Path $fixtures 'missing.cer'
                $failure = { Set-AzsBackupConfiguration -EncryptionCertPath $missing } |
                    Should -Throw -ErrorId 'AzsBackup.CertificateNotFound,Set-AzsBackupConfiguration' -PassThru
                $failure.TargetObject | Should -Be $missing
                $failure.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            }

            It 'a .pfx given as -EncryptionCertPath fails with AzsBackup.CertificateHasPrivateKey' {
                $failure = { Set-AzsBackupConfiguration -EncryptionCertPath $pfx } |
                    Should -Throw -ErrorId 'AzsBackup.CertificateHasPrivateKey,Set-AzsBackupConfiguration' -PassThru
                $failure.Exception.Message | Should -Match '\.cer'
            }

            It 'a text file given as certificate fails with AzsBackup.CertificateInvalid' {
                { Set-AzsBackupConfiguration -EncryptionCertPath $textFile } |
                    Should -Throw -ErrorId 'AzsBackup.CertificateInvalid,Set-AzsBackupConfiguration'
            }

            It 'an expired certificate fails with AzsBackup.CertificateExpired' {
                $failure = { Set-AzsBackupConfiguration -EncryptionCertPath $expiredCertificate } |
                    Should -Throw -ErrorId 'AzsBackup.CertificateExpired,Set-AzsBackupConfiguration' -PassThru
                $failure.Exception.Message | Should -Match 'New-AzsBackupEncryptionCertificate'
            }

            It 'a store path that does not exist fails with AzsBackup.PathNotFound' {
                $missing = Join-Path $stateDirectory 'no-such-folder'
                { Set-AzsBackupConfiguration -Path $missing } |
                    Should -Throw -ErrorId 'AzsBackup.PathNotFound,Set-AzsBackupConfiguration'
            }

            It 'a store path that cannot be written (immutable folder) fails' {
                $locked = (New-Item -ItemType Directory -Path (Join-Path $stateDirectory 'locked')).FullName
                & chattr +i $locked
                try {
                    $failure = { Set-AzsBackupConfiguration -Path $locked } | Should -Throw -PassThru
                    $failure.FullyQualifiedErrorId | Should -Match '^AzsBackup\.Store\w+,Set-AzsBackupConfiguration$'
                    $failure.Exception.Message | Should -Not -BeNullOrEmpty
                } finally {
                    & chattr -i $locked
                }
            }

            It '-MetricsPath <Case> fails with AzsBackup.InvalidParameter naming MetricsPath' -ForEach @(
                @{ Case = 'relative'; Value = 'metrics'; Reason = 'is not an absolute path' }
                @{ Case = 'missing'; Value = 'no-such-folder'; Reason = 'does not exist' }
                @{ Case = 'a file'; Value = 'notes.txt'; Reason = 'is not a folder' }
            ) {
                $metricsPath = if ($Case -eq 'relative') { $Value } elseif ($Case -eq 'a file') { $textFile } else { Join-Path $stateDirectory $Value }
                $failure = { Set-AzsBackupConfiguration -MetricsPath $metricsPath } |
                    Should -Throw -ErrorId 'AzsBackup.InvalidParameter,Set-AzsBackupConfiguration' -PassThru
                $failure.Exception.Message | Should -Match "^MetricsPath '.*' $Reason\. Give the full path of an existing folder"
                $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
            }

            It 'a wrong user name format fails with AzsBackup.InvalidParameter' {
                { Set-AzsBackupConfiguration -UserName 'bad user<>' } |
                    Should -Throw -ErrorId 'AzsBackup.InvalidParameter,Set-AzsBackupConfiguration'
            }

            It 'an object that is not a BackupLocation from the pipeline fails with AzsBackup.InvalidParameter' {
                { 'not a location' | Set-AzsBackupConfiguration } |
                    Should -Throw -ErrorId 'AzsBackup.InvalidParameter,Set-AzsBackupConfiguration'
            }

            It 'a failing job ends Failed with the error as its reason' {
                $job = Set-AzsBackupConfiguration -BackupFrequencyInHours 13 -AsJob
                $job | Wait-Job -Timeout 120 | Out-Null
                $job.State | Should -Be 'Failed'
                $job.JobStateInfo.Reason.ErrorRecord.FullyQualifiedErrorId | Should -Be 'AzsBackup.InvalidRange,Set-AzsBackupConfiguration'
                { Receive-Job -Job $job -ErrorAction Stop } | Should -Throw -ExpectedMessage '*between 4 and 12*'
                $job | Remove-Job
            }
        }

        It 'gives the same configuration back in a new pwsh process' {
            Set-AzsBackupConfiguration -Path $store -EncryptionCertPath $certificate -BackupFrequencyInHours 9 | Out-Null
            $expected = Get-AzsBackupConfiguration
            # A child pwsh writes warnings (the daemon keep-alive one) to stdout: keep the JSON alone.
            $json = Invoke-NewPwsh -Command "Import-Module '$($script:ManifestPath)'; Get-AzsBackupConfiguration -WarningAction SilentlyContinue | ConvertTo-Json" | Out-String
            $other = $json | ConvertFrom-Json
            $other.Path | Should -Be $store
            $other.BackupFrequencyInHours | Should -Be 9
            $other.EncryptionCertThumbprint | Should -Be $expected.EncryptionCertThumbprint
        }
    }
}
