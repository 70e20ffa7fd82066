# Restore-AzsBackup and Test-AzsBackup against a real daemon, a local store and real certificates
# (openssl .cer/.pfx). Every test has its own state folder with two Directory roles, WAS and CA.

Describe 'Recovery' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        . (Join-Path $PSScriptRoot 'DeploymentHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
        $fixtures = New-TestFolder
        $pfxSecret = 'Pfx-Secret-' + [guid]::NewGuid().ToString('N')
        $pfxPassword = ConvertTo-SecureString $pfxSecret -AsPlainText -Force
        $certificate = New-TestPfx -Folder $fixtures -Name 'backup' -Secret $pfxSecret
        $otherCertificate = New-TestPfx -Folder $fixtures -Name 'other' -Secret $pfxSecret
        $thumbprint = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($certificate.Cer).Thumbprint
    }

    AfterAll {
        Remove-Item -LiteralPath $fixtures -Recurse -Force -ErrorAction SilentlyContinue
    }

    BeforeEach {
        $deployment = New-TestDeployment -CerPath $certificate.Cer
        $original = Get-RoleDigests -Deployment $deployment
        $backup = Start-AzsBackup -Force
        foreach ($folder in $deployment.Data.Values) { Edit-TestRoleData -Folder $folder }
        $edited = Get-RoleDigests -Deployment $deployment
        $decryption = @{ DecryptionCertPath = $certificate.Pfx; DecryptionCertPassword = $pfxPassword }
    }

    AfterEach {
        Remove-TestHome -StateDirectory $deployment.StateDirectory
    }

    Context 'Restore-AzsBackup' {
        It 'restores every role with -Force, without a prompt, and the data equals the backed-up data' {
            $edited.WAS | Should -Not -Be $original.WAS
            $output = Restore-AzsBackup -Name $backup.BackupId @decryption -Force
            $output | Should -BeNullOrEmpty
            (Get-RoleDigests -Deployment $deployment).WAS | Should -Be $original.WAS
            (Get-RoleDigests -Deployment $deployment).CA | Should -Be $original.CA
        }

        It 'restores only the role named by -RoleName' {
            Restore-AzsBackup -Name $backup.BackupId -RoleName 'CA' @decryption -Force
            $now = Get-RoleDigests -Deployment $deployment
            $now.CA | Should -Be $original.CA
            $now.WAS | Should -Be $edited.WAS
        }

        It 'restores the backup piped from Get-AzsBackup | Select-Object -First 1' {
            Get-AzsInfrastructureRole -Name 'WAS' | Unregister-AzsInfrastructureRole
            $newer = Start-AzsBackup -Force
            Remove-Item -LiteralPath (Join-Path $deployment.Data.CA 'file2.txt')
            Get-AzsBackup | Select-Object -First 1 | Restore-AzsBackup @decryption -Force
            (Get-RoleDigests -Deployment $deployment).CA | Should -Be $edited.CA
            @($newer.RoleStatus).RoleName | Should -Be @('CA')
        }

        It 'takes the backup from any piped object with a BackupId, and from a piped id' {
            [pscustomobject]@{ BackupId = $backup.BackupId } | Restore-AzsBackup -RoleName 'WAS' @decryption -Force
            (Get-RoleDigests -Deployment $deployment).WAS | Should -Be $original.WAS
            $backup.BackupId | Restore-AzsBackup -RoleName 'CA' @decryption -Force
            (Get-RoleDigests -Deployment $deployment).CA | Should -Be $original.CA
        }

        It 'resolves a relative -DecryptionCertPath against the current location' {
            Push-Location -LiteralPath $fixtures
            try {
                Restore-AzsBackup -Name $backup.BackupId -DecryptionCertPath './backup.pfx' -DecryptionCertPassword $pfxPassword -Force
            } finally {
                Pop-Location
            }
            (Get-RoleDigests -Deployment $deployment).CA | Should -Be $original.CA
        }

        It 'returns $true with -PassThru' {
            $output = @(Restore-AzsBackup -Name $backup.BackupId @decryption -Force -PassThru)
            $output.Count | Should -Be 1
            $output[0] | Should -BeOfType [bool]
            $output[0] | Should -BeTrue
        }

        It 'restores the roles that verify when one is damaged, and writes a non-terminating AzsBackup.BackupCorrupt naming the damaged one' {
            Switch-FileByte -Path (Get-StoredRoleFile -Store $deployment.Store -BackupId $backup.BackupId -RoleName 'CA') -Offset 300
            $output = @(Restore-AzsBackup -Name $backup.BackupId @decryption -Force -PassThru -ErrorVariable failures -ErrorAction SilentlyContinue)
            $succeeded = $?
            $succeeded | Should -BeFalse
            $output | Should -Be @($false)
            @($failures).Count | Should -Be 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'AzsBackup.BackupCorrupt,Restore-AzsBackup'
            $failures[0].CategoryInfo.Category | Should -Be 'InvalidData'
            $failures[0].TargetObject | Should -Match '^CA/CA\.azsb'
            $failures[0].Exception.Message | Should -Match 'role CA'
            $failures[0].Exception.Message | Should -Match 'Restored: WAS\.'
            $now = Get-RoleDigests -Deployment $deployment
            $now.WAS | Should -Be $original.WAS
            $now.CA | Should -Be $edited.CA
            $job = Get-AzsBackupJob -Kind Restore -Top 1
            $job.Outcome | Should -Be 'PartialSucceeded'
            ($job.Roles | Where-Object RoleName -eq 'CA').Status | Should -Be 'Failed'
            ($job.Roles | Where-Object RoleName -eq 'WAS').Status | Should -Be 'Succeeded'
        }

        It 'with -AsJob and a damaged role: the job completes, its Output is $false, its Error stream names the role' {
            Switch-FileByte -Path (Get-StoredRoleFile -Store $deployment.Store -BackupId $backup.BackupId -RoleName 'CA') -Offset 300
            $job = Restore-AzsBackup -Name $backup.BackupId @decryption -Force -AsJob -PassThru
            $job | Wait-Job -Timeout 300 | Out-Null
            $job.State | Should -Be 'Completed'
            @($job.Error).Count | Should -Be 1
            $job.Error[0].FullyQualifiedErrorId | Should -Match '^AzsBackup\.BackupCorrupt'
            @(Receive-Job -Job $job -ErrorAction SilentlyContinue) | Should -Be @($false)
            $job | Remove-Job
            (Get-RoleDigests -Deployment $deployment).WAS | Should -Be $original.WAS
        }

        It 'makes pwsh -NonInteractive -Command exit with 1 when a role was not restored, naming it on stderr' {
            Switch-FileByte -Path (Get-StoredRoleFile -Store $deployment.Store -BackupId $backup.BackupId -RoleName 'CA') -Offset 300
            $run = Invoke-PwshProcess -Command ("Import-Module '$($script:ManifestPath)'; Restore-AzsBackup -Name '$($backup.BackupId)' -DecryptionCertPath '$($certificate.Pfx)' " +
                "-DecryptionCertPassword (ConvertTo-SecureString '$pfxSecret' -AsPlainText -Force) -Force")
            $run.ExitCode | Should -Be 1
            Get-FlatText -Text $run.StdErr | Should -Match 'failedverificationinroleCA'
            (Get-RoleDigests -Deployment $deployment).WAS | Should -Be $original.WAS
        }

        It 'restores the roles -RoleName lists, and -WhatIf lists each with the path it replaces' {
            $whatIf = Invoke-PwshProcess -Command ("Import-Module '$($script:ManifestPath)'; Restore-AzsBackup -Name '$($backup.BackupId)' -RoleName CA, WAS -DecryptionCertPath '$($certificate.Pfx)' " +
                "-DecryptionCertPassword (ConvertTo-SecureString '$pfxSecret' -AsPlainText -Force) -WhatIf")
            $whatIf.ExitCode | Should -Be 0
            $text = Get-FlatText -Text $whatIf.StdOut
            $text | Should -Match 'Restore2role\(s\)'
            foreach ($role in 'WAS', 'CA') {
                $text | Should -Match ([regex]::Escape("${role}:Directory,replacespath'$($deployment.Data[$role])'(registeredonthisdeployment)"))
            }
            (Get-RoleDigests -Deployment $deployment).CA | Should -Be $edited.CA
            Restore-AzsBackup -Name $backup.BackupId -RoleName 'CA', 'WAS' @decryption -Force
            $now = Get-RoleDigests -Deployment $deployment
            $now.CA | Should -Be $original.CA
            $now.WAS | Should -Be $original.WAS
        }

        It 'restores nothing with -WhatIf, even with -Force' {
            Restore-AzsBackup -Name $backup.BackupId @decryption -WhatIf | Should -BeNullOrEmpty
            Restore-AzsBackup -Name $backup.BackupId @decryption -Force -WhatIf -PassThru | Should -BeNullOrEmpty
            $now = Get-RoleDigests -Deployment $deployment
            $now.WAS | Should -Be $edited.WAS
            $now.CA | Should -Be $edited.CA
        }

        It 'returns a job with -AsJob whose Receive-Job -Wait output is the -PassThru output, with progress for each role' {
            $job = Restore-AzsBackup -Name $backup.BackupId @decryption -Force -AsJob -PassThru
            $job | Should -BeOfType [System.Management.Automation.Job]
            $job | Wait-Job -Timeout 300 | Out-Null
            $job.State | Should -Be 'Completed'
            # Read before Receive-Job, which takes the progress records out of the job.
            $activities = @($job.Progress | ForEach-Object Activity | Sort-Object -Unique)
            $activities | Should -Contain 'Restoring infrastructure roles'
            $activities | Should -Contain 'WAS'
            $activities | Should -Contain 'CA'
            $received = @(Receive-Job -Job $job -Wait)
            $received | Should -Be @($true)
            $job | Remove-Job
            (Get-RoleDigests -Deployment $deployment).WAS | Should -Be $original.WAS
        }

        It 'returns at once with -NoWait and the restore completes in the daemon' {
            Restore-AzsBackup -Name $backup.BackupId @decryption -Force -NoWait -PassThru | Should -BeTrue
            $history = { (& node $script:CliPath jobs --json --state-dir $deployment.StateDirectory | ConvertFrom-Json).jobs | Where-Object Kind -eq 'Restore' }
            for ($attempt = 0; $attempt -lt 300 -and @(& $history | Where-Object Outcome -ne 'Running').Count -eq 0; $attempt++) { Start-Sleep -Milliseconds 200 }
            @(& $history)[0].Outcome | Should -Be 'Succeeded'
            (Get-RoleDigests -Deployment $deployment).WAS | Should -Be $original.WAS
        }

        Context 'refuses and leaves every role untouched' {
            AfterEach {
                $now = Get-RoleDigests -Deployment $deployment
                $now.WAS | Should -Be $edited.WAS
                $now.CA | Should -Be $edited.CA
            }

            It 'a backup with a flipped byte in every role fails with one AzsBackup.BackupCorrupt naming each role and file' {
                foreach ($role in 'WAS', 'CA') {
                    Switch-FileByte -Path (Get-StoredRoleFile -Store $deployment.Store -BackupId $backup.BackupId -RoleName $role) -Offset 300
                }
                $failure = { Restore-AzsBackup -Name $backup.BackupId @decryption -Force } |
                    Should -Throw -ErrorId 'AzsBackup.BackupCorrupt,Restore-AzsBackup' -PassThru
                $failure.CategoryInfo.Category | Should -Be 'InvalidData'
                $failure.Exception.Message | Should -Match 'Nothing was restored'
                $failure.Exception.Message | Should -Match 'CA/CA\.azsb'
                $failure.Exception.Message | Should -Match 'WAS/WAS\.azsb'
                $failure.Exception.Message | Should -Match 'Test-AzsBackup'
            }

            It 'a -RoleName list with a role the backup does not hold fails with AzsBackup.RoleNotFound' {
                { Restore-AzsBackup -Name $backup.BackupId -RoleName 'CA', 'KeyVault' @decryption -Force } |
                    Should -Throw -ErrorId 'AzsBackup.RoleNotFound,Restore-AzsBackup'
            }

            It 'a wrong password fails with AzsBackup.DecryptionFailed' {
                $wrong = ConvertTo-SecureString 'not-the-password' -AsPlainText -Force
                $failure = { Restore-AzsBackup -Name $backup.BackupId -DecryptionCertPath $certificate.Pfx -DecryptionCertPassword $wrong -Force } |
                    Should -Throw -ErrorId 'AzsBackup.DecryptionFailed,Restore-AzsBackup' -PassThru
                $failure.Exception.Message | Should -Match 'DecryptionCertPassword'
                $failure.Exception.Message | Should -Not -Match 'not-the-password'
            }

            It 'the .pfx of another certificate fails with AzsBackup.DecryptionCertificateMismatch naming the thumbprint needed' {
                $failure = { Restore-AzsBackup -Name $backup.BackupId -DecryptionCertPath $otherCertificate.Pfx -DecryptionCertPassword $pfxPassword -Force } |
                    Should -Throw -ErrorId 'AzsBackup.DecryptionCertificateMismatch,Restore-AzsBackup' -PassThru
                $failure.CategoryInfo.Category | Should -Be 'SecurityError'
                $failure.Exception.Message | Should -Match $thumbprint
            }

            It 'a .pfx that does not exist fails with AzsBackup.CertificateNotFound' {
                $missing = Join-Path $fixtures 'missing.pfx'
                $failure = { Restore-AzsBackup -Name $backup.BackupId -DecryptionCertPath $missing -DecryptionCertPassword $pfxPassword -Force } |
                    Should -Throw -ErrorId 'AzsBackup.CertificateNotFound,Restore-AzsBackup' -PassThru
                $failure.TargetObject | Should -Be $missing
            }

            It 'an unknown backup fails with AzsBackup.BackupNotFound' {
                { Restore-AzsBackup -Name ([guid]::NewGuid().ToString()) @decryption -Force } |
                    Should -Throw -ErrorId 'AzsBackup.BackupNotFound,Restore-AzsBackup'
            }

            It 'a role the backup does not hold fails with AzsBackup.RoleNotFound' {
                $failure = { Restore-AzsBackup -Name $backup.BackupId -RoleName 'KeyVault' @decryption -Force } |
                    Should -Throw -ErrorId 'AzsBackup.RoleNotFound,Restore-AzsBackup' -PassThru
                $failure.Exception.Message | Should -Match 'WAS'
            }

            It 'a restore while a backup runs fails with AzsBackup.BackupAlreadyRunning' {
                Register-AzsInfrastructureRole -Name 'Slow' -Provider PowerShell -BackupScript { Start-Sleep -Seconds 10 } -RestoreScript { 'nothing' } | Out-Null
                $running = Start-AzsBackup -NoWait -Force
                $failure = { Restore-AzsBackup -Name $backup.BackupId @decryption -Force } |
                    Should -Throw -ErrorId 'AzsBackup.BackupAlreadyRunning,Restore-AzsBackup' -PassThru
                $failure.Exception.Message | Should -Match $running.BackupId
            }

            It 'an object without BackupId or Name fails with AzsBackup.InvalidParameter' {
                { [pscustomobject]@{ Id = 1 } | Restore-AzsBackup @decryption -Force } |
                    Should -Throw -ErrorId 'AzsBackup.InvalidParameter,Restore-AzsBackup'
            }
        }

        Context 'in a fresh deployment on the same store (cloud recovery)' {
            BeforeEach {
                $first = $deployment.StateDirectory
                (Get-AzsBackup -Name $backup.BackupId).IsKnownToDeployment | Should -BeTrue
                $fresh = New-TestHome
                Set-AzsBackupConfiguration -Path $deployment.Store | Out-Null
                foreach ($role in 'WAS', 'CA') { Remove-Item -LiteralPath $deployment.Data[$role] -Recurse -Force }
                $restore = "Import-Module '$($script:ManifestPath)'; " +
                "Restore-AzsBackup -Name '$($backup.BackupId)' -DecryptionCertPath '$($certificate.Pfx)' " +
                "-DecryptionCertPassword (ConvertTo-SecureString '$pfxSecret' -AsPlainText -Force) -Force"
            }

            AfterEach {
                Remove-TestHome -StateDirectory $fresh
                $env:AZSBACKUP_HOME = $first
            }

            It 'shows the backup as not known; -WhatIf lists each role with provider and path; without -AcceptBackupRoles nothing is restored' {
                (Get-AzsBackup -Name $backup.BackupId).IsKnownToDeployment | Should -BeFalse
                (Get-AzsBackup | Format-Table | Out-String -Width 300) | Should -Match 'IsKnownToDeployment\s*\n[- ]+\n.*False'
                $whatIf = Invoke-PwshProcess -Command "$restore -WhatIf"
                $whatIf.ExitCode | Should -Be 0
                $text = Get-FlatText -Text $whatIf.StdOut
                $text | Should -Match 'NOTknowntothisdeployment'
                foreach ($role in 'WAS', 'CA') {
                    $text | Should -Match ([regex]::Escape("${role}:Directory,replacespath'$($deployment.Data[$role])'(registrationtakenfromthebackup,needs-AcceptBackupRoles)"))
                }
                $failure = { Restore-AzsBackup -Name $backup.BackupId @decryption -Force } |
                    Should -Throw -ErrorId 'AzsBackup.RolesNotAccepted,Restore-AzsBackup' -PassThru
                $failure.CategoryInfo.Category | Should -Be 'SecurityError'
                $failure.Exception.Message | Should -Match '-AcceptBackupRoles'
                Get-AzsInfrastructureRole | Should -BeNullOrEmpty
                $deployment.Data.WAS | Should -Not -Exist
            }

            It 'restores every role and its registration with -AcceptBackupRoles' {
                Restore-AzsBackup -Name $backup.BackupId @decryption -AcceptBackupRoles -Force
                (Get-RoleDigests -Deployment $deployment).WAS | Should -Be $original.WAS
                (Get-RoleDigests -Deployment $deployment).CA | Should -Be $original.CA
                @(Get-AzsInfrastructureRole).Name | Sort-Object | Should -Be @('CA', 'WAS')
            }
        }

        Context 'in a new pwsh -NonInteractive' {
            BeforeEach {
                $restore = "Import-Module '$($script:ManifestPath)'; " +
                "Restore-AzsBackup -Name '$($backup.BackupId)' -DecryptionCertPath '$($certificate.Pfx)' " +
                "-DecryptionCertPassword (ConvertTo-SecureString '$pfxSecret' -AsPlainText -Force)"
            }

            It 'runs unattended with <Switch> and exits with 0' -ForEach @(
                @{ Switch = '-Force' }
                @{ Switch = '-Confirm:$false' }
            ) {
                $run = Invoke-PwshProcess -Command "$restore $Switch"
                $run.StdErr | Should -BeNullOrEmpty
                $run.ExitCode | Should -Be 0
                (Get-RoleDigests -Deployment $deployment).WAS | Should -Be $original.WAS
            }

            It 'fails without -Force with AzsBackup.ConfirmationRequired naming -Force, and restores nothing' {
                $run = Invoke-PwshProcess -Command "try { $restore } catch { `$_.FullyQualifiedErrorId; `$_.Exception.Message; exit 3 }"
                $run.ExitCode | Should -Be 3
                $run.StdOut | Should -Match 'AzsBackup\.ConfirmationRequired,Restore-AzsBackup'
                $run.StdOut | Should -Match '-Force'
                (Get-RoleDigests -Deployment $deployment).WAS | Should -Be $edited.WAS
            }
        }
    }

    Context 'Test-AzsBackup' {
        It 'returns one Succeeded BackupTestResult per role, with and without the .pfx, and writes nothing to the roles' {
            foreach ($results in @(@(Test-AzsBackup -Name $backup.BackupId), @(Test-AzsBackup -Name $backup.BackupId @decryption))) {
                $results.Count | Should -Be 2
                @($results.RoleName) | Sort-Object | Should -Be @('CA', 'WAS')
                foreach ($result in $results) {
                    $result.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.BackupTestResult'
                    $result.BackupId | Should -Be $backup.BackupId
                    $result.Status | Should -Be 'Succeeded'
                    $result.ErrorMessage | Should -BeNullOrEmpty
                    $result.File | Should -BeNullOrEmpty
                }
            }
            (Get-RoleDigests -Deployment $deployment).WAS | Should -Be $edited.WAS
        }

        It 'tests every backup piped from Get-AzsBackup' {
            $second = Start-AzsBackup -Force
            $results = @(Get-AzsBackup | Test-AzsBackup)
            $results.Count | Should -Be 4
            @($results.BackupId | Sort-Object -Unique) | Should -Be @(@($backup.BackupId, $second.BackupId) | Sort-Object)
        }

        Context 'a backup with one flipped byte in the CA role' {
            BeforeEach {
                Switch-FileByte -Path (Get-StoredRoleFile -Store $deployment.Store -BackupId $backup.BackupId -RoleName 'CA') -Offset 300
            }

            It 'names the failed role and its file in a Failed result, not in an error (<Mode>)' -ForEach @(
                @{ Mode = 'stored bytes only' }
                @{ Mode = 'decrypted with the .pfx' }
            ) {
                $arguments = @{ Name = $backup.BackupId }
                if ($Mode -like 'decrypted*') { $arguments += $decryption }
                $results = @(Test-AzsBackup @arguments -ErrorVariable failures)
                $? | Should -BeTrue
                $failures | Should -BeNullOrEmpty
                $ca = $results | Where-Object RoleName -eq 'CA'
                $ca.Status | Should -Be 'Failed'
                $ca.File | Should -Match '^CA/CA\.azsb'
                $ca.ErrorMessage | Should -Not -BeNullOrEmpty
                ($results | Where-Object RoleName -eq 'WAS').Status | Should -Be 'Succeeded'
            }

            It 'with -ErrorOnFailure also writes AzsBackup.BackupCorrupt for the failed role, after every result' {
                $results = @(Test-AzsBackup -Name $backup.BackupId -ErrorOnFailure -ErrorVariable failures -ErrorAction SilentlyContinue)
                $results.Count | Should -Be 2
                @($failures).Count | Should -Be 1
                $failures[0].FullyQualifiedErrorId | Should -Be 'AzsBackup.BackupCorrupt,Test-AzsBackup'
                $failures[0].TargetObject | Should -Match '^CA/CA\.azsb'
                $failures[0].Exception.Message | Should -Match 'role CA'
                { Test-AzsBackup -Name $backup.BackupId -ErrorOnFailure -ErrorAction Stop } | Should -Throw -ErrorId 'AzsBackup.BackupCorrupt,Test-AzsBackup'
            }

            It 'makes pwsh -Command exit with 1 with -ErrorOnFailure, and with 0 without it' {
                $test = "Import-Module '$($script:ManifestPath)'; Test-AzsBackup -Name '$($backup.BackupId)'"
                (Invoke-PwshProcess -Command $test).ExitCode | Should -Be 0
                $run = Invoke-PwshProcess -Command "$test -ErrorOnFailure"
                $run.ExitCode | Should -Be 1
                Get-FlatText -Text $run.StdErr | Should -Match 'failedverificationinroleCA'
            }
        }

        It 'reports a wrong .pfx as a non-terminating AzsBackup.DecryptionCertificateMismatch' {
            $results = Test-AzsBackup -Name $backup.BackupId -DecryptionCertPath $otherCertificate.Pfx -DecryptionCertPassword $pfxPassword -ErrorVariable failures -ErrorAction SilentlyContinue
            $results | Should -BeNullOrEmpty
            $failures[0].FullyQualifiedErrorId | Should -Be 'AzsBackup.DecryptionCertificateMismatch,Test-AzsBackup'
        }

        It 'reports a wrong password with AzsBackup.DecryptionFailed, and an unknown backup with AzsBackup.BackupNotFound' {
            $wrong = ConvertTo-SecureString 'wrong' -AsPlainText -Force
            { Test-AzsBackup -Name $backup.BackupId -DecryptionCertPath $certificate.Pfx -DecryptionCertPassword $wrong -ErrorAction Stop } |
                Should -Throw -ErrorId 'AzsBackup.DecryptionFailed,Test-AzsBackup'
            { Test-AzsBackup -Name ([guid]::NewGuid().ToString()) -ErrorAction Stop } |
                Should -Throw -ErrorId 'AzsBackup.BackupNotFound,Test-AzsBackup'
        }
    }
}
