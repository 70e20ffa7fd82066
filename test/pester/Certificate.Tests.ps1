# New-AzsBackupEncryptionCertificate against a real daemon, with its own state folder per test.

Describe 'New-AzsBackupEncryptionCertificate' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        . (Join-Path $PSScriptRoot 'DeploymentHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
    }

    BeforeEach {
        $stateDirectory = New-TestHome
        $out = (New-Item -ItemType Directory -Path (Join-Path $stateDirectory 'out')).FullName
        $pfxSecret = 'Pfx-Secret-' + [guid]::NewGuid().ToString('N')
        $pfxPassword = ConvertTo-SecureString $pfxSecret -AsPlainText -Force
    }

    AfterEach {
        Remove-TestHome -StateDirectory $stateDirectory
    }

    It 'writes a .cer and a password-protected .pfx and returns the EncryptionCertificate' {
        $certificate = New-AzsBackupEncryptionCertificate -CerPath (Join-Path $out 'b.cer') -PfxPath (Join-Path $out 'b.pfx') -PfxPassword $pfxPassword
        $certificate.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.EncryptionCertificate'
        $certificate.Subject | Should -Match 'CN=AzureStackBackup'
        $public = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($certificate.CerPath)
        $certificate.Thumbprint | Should -Be $public.Thumbprint
        $public.HasPrivateKey | Should -BeFalse
        [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPublicKey($public).ExportParameters($false).Modulus.Length * 8 | Should -BeGreaterOrEqual 3072
        $certificate.NotAfter | Should -BeOfType [datetime]
        $certificate.NotAfter.Kind | Should -Be 'Utc'
        ($certificate.NotAfter - [datetime]::UtcNow).TotalDays | Should -BeGreaterThan 700
        $withKey = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($certificate.PfxPath, $pfxSecret)
        $withKey.HasPrivateKey | Should -BeTrue
        $withKey.Thumbprint | Should -Be $certificate.Thumbprint
    }

    It 'resolves relative paths, takes -Subject and -ValidityYears, and its .cer is accepted as encryption certificate' {
        Push-Location -LiteralPath $out
        try {
            $certificate = New-AzsBackupEncryptionCertificate -Subject 'CN=Stamp1, O=Contoso' -CerPath 'r.cer' -PfxPath 'r.pfx' -PfxPassword $pfxPassword -ValidityYears 5
        } finally {
            Pop-Location
        }
        $certificate.CerPath | Should -Be (Join-Path $out 'r.cer')
        $certificate.Subject | Should -Match 'Stamp1'
        ($certificate.NotAfter - [datetime]::UtcNow).TotalDays | Should -BeGreaterThan (4 * 365)
        (Set-AzsBackupConfiguration -EncryptionCertPath $certificate.CerPath).EncryptionCertThumbprint | Should -Be $certificate.Thumbprint
    }

    It 'keeps neither the .pfx password nor the private key under the state folder' {
        New-AzsBackupEncryptionCertificate -CerPath (Join-Path $out 'c.cer') -PfxPath (Join-Path $out 'c.pfx') -PfxPassword $pfxPassword | Out-Null
        Get-FilesContaining -Folder $stateDirectory -Text $pfxSecret | Should -BeNullOrEmpty
        Get-FilesContaining -Folder $stateDirectory -Text 'PRIVATE KEY' | Should -BeNullOrEmpty
    }

    It 'writes nothing with -WhatIf' {
        New-AzsBackupEncryptionCertificate -CerPath (Join-Path $out 'w.cer') -PfxPath (Join-Path $out 'w.pfx') -PfxPassword $pfxPassword -WhatIf |
            Should -BeNullOrEmpty
        Get-ChildItem -LiteralPath $out | Should -BeNullOrEmpty
    }

    It 'fails with AzsBackup.PathNotFound when the folder does not exist' {
        $missing = Join-Path $out 'no-such-folder'
        $failure = { New-AzsBackupEncryptionCertificate -CerPath "$missing/x.cer" -PfxPath "$missing/x.pfx" -PfxPassword $pfxPassword } |
            Should -Throw -ErrorId 'AzsBackup.PathNotFound,New-AzsBackupEncryptionCertificate' -PassThru
        $failure.Exception.Message | Should -Match 'does not exist'
    }

    It 'fails with AzsBackup.InvalidRange for a validity beyond 50 years' {
        { New-AzsBackupEncryptionCertificate -CerPath "$out/v.cer" -PfxPath "$out/v.pfx" -PfxPassword $pfxPassword -ValidityYears 51 } |
            Should -Throw -ErrorId 'AzsBackup.InvalidRange,New-AzsBackupEncryptionCertificate'
        Get-ChildItem -LiteralPath $out | Should -BeNullOrEmpty
    }

    Context 'an existing .cer or .pfx (issue 15: the .pfx may be the only key to earlier backups)' {
        BeforeEach {
            $cer = Join-Path $out 'e.cer'
            $pfx = Join-Path $out 'e.pfx'
            $first = New-AzsBackupEncryptionCertificate -CerPath $cer -PfxPath $pfx -PfxPassword $pfxPassword
            $before = @{ Cer = (Get-FileHash -LiteralPath $cer).Hash; Pfx = (Get-FileHash -LiteralPath $pfx).Hash }
            $newCertificate = "Import-Module '$($script:ManifestPath)'; " +
            "New-AzsBackupEncryptionCertificate -CerPath '<Cer>' -PfxPath '<Pfx>' -PfxPassword (ConvertTo-SecureString '$pfxSecret' -AsPlainText -Force)"
        }

        It 'is not replaced without -Force in pwsh -NonInteractive: AzsBackup.CertificateFileExists (ResourceExists) names the <Existing> and -Force' -ForEach @(
            @{ Existing = '.pfx'; CerName = 'other.cer'; PfxName = 'e.pfx'; Parameter = 'PfxPath' }
            @{ Existing = '.cer'; CerName = 'e.cer'; PfxName = 'other.pfx'; Parameter = 'CerPath' }
        ) {
            $command = $newCertificate -replace '<Cer>', (Join-Path $out $CerName) -replace '<Pfx>', (Join-Path $out $PfxName)
            $run = Invoke-PwshProcess -Command "try { $command } catch { `$_.FullyQualifiedErrorId; `$_.CategoryInfo.Category; `$_.Exception.Message; exit 3 }"
            $run.ExitCode | Should -Be 3
            $lines = $run.StdOut -split "`n"
            $lines[0] | Should -Be 'AzsBackup.CertificateFileExists,New-AzsBackupEncryptionCertificate'
            $lines[1] | Should -Be 'ResourceExists'
            $run.StdOut | Should -Match ([regex]::Escape("$Parameter '$(Join-Path $out "e$Existing")' already exists"))
            $run.StdOut | Should -Match '-Force'
            (Get-FileHash -LiteralPath $cer).Hash | Should -Be $before.Cer
            (Get-FileHash -LiteralPath $pfx).Hash | Should -Be $before.Pfx
            Get-ChildItem -LiteralPath $out -Filter 'other.*' | Should -BeNullOrEmpty -Because 'a refusal writes nothing'
        }

        It 'is not replaced without -Force where the host cannot ask, not even with -Confirm:$false' {
            { New-AzsBackupEncryptionCertificate -CerPath $cer -PfxPath $pfx -PfxPassword $pfxPassword -Confirm:$false } |
                Should -Throw -ErrorId 'AzsBackup.CertificateFileExists,New-AzsBackupEncryptionCertificate'
            (Get-FileHash -LiteralPath $pfx).Hash | Should -Be $before.Pfx
        }

        It 'is not touched by -WhatIf' {
            New-AzsBackupEncryptionCertificate -CerPath $cer -PfxPath $pfx -PfxPassword $pfxPassword -WhatIf | Should -BeNullOrEmpty
            (Get-FileHash -LiteralPath $cer).Hash | Should -Be $before.Cer
            (Get-FileHash -LiteralPath $pfx).Hash | Should -Be $before.Pfx
        }

        It 'is replaced with -Force in pwsh -NonInteractive, with nothing on stderr' {
            $run = Invoke-PwshProcess -Command (($newCertificate -replace '<Cer>', $cer -replace '<Pfx>', $pfx) + ' -Force | ForEach-Object Thumbprint')
            $run.StdErr | Should -BeNullOrEmpty
            $run.ExitCode | Should -Be 0
            $run.StdOut.Trim() | Should -Not -Be $first.Thumbprint
            [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($cer).Thumbprint | Should -Be $run.StdOut.Trim()
            [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($pfx, $pfxSecret).Thumbprint | Should -Be $run.StdOut.Trim()
        }
    }
}
