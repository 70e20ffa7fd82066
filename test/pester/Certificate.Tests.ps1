# New-AzsBackupEncryptionCertificate against a real daemon, with its own state folder per test.

Describe 'New-AzsBackupEncryptionCertificate' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
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
}
