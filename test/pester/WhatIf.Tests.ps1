# -WhatIf on every cmdlet that changes state changes nothing: the state folder (which here also holds
# the store and the roles' data) is hashed before and after, leaving out only the daemon's logs/ and
# run/ folders. The deployment has a backup, data changed since, and a leftover for prune to find, so
# that each command, run for real, would change something.

BeforeDiscovery {
    $cases = @(
        @{ Command = 'Set-AzsBackupConfiguration'; Run = { Set-AzsBackupConfiguration -BackupFrequencyInHours 4 -BackupRetentionPeriodInDays 2 -EncryptionCertPath $otherCertificate.Cer -IsBackupSchedulerEnabled:$false -Force -WhatIf } }
        @{ Command = 'Set-AzsBackupConfiguration -AsJob'; Run = { Set-AzsBackupConfiguration -Path $deployment.Data.WAS -AsJob -WhatIf } }
        @{ Command = 'Start-AzsBackup'; Run = { Start-AzsBackup -Force -WhatIf } }
        @{ Command = 'Start-AzsBackup -AsJob'; Run = { Start-AzsBackup -AsJob -Force -WhatIf } }
        @{ Command = 'Restore-AzsBackup'; Run = { Restore-AzsBackup -Name $backup.BackupId -DecryptionCertPath $certificate.Pfx -DecryptionCertPassword $pfxPassword -Force -WhatIf -PassThru } }
        @{ Command = 'Restore-AzsBackup from the pipeline, -AsJob'; Run = { Get-AzsBackup | Restore-AzsBackup -DecryptionCertPath $certificate.Pfx -DecryptionCertPassword $pfxPassword -Force -AsJob -WhatIf } }
        @{ Command = 'Register-AzsInfrastructureRole'; Run = { Register-AzsInfrastructureRole -Name 'NRP' -Provider Directory -Path $deployment.Data.CA -WhatIf } }
        @{ Command = 'Unregister-AzsInfrastructureRole'; Run = { Get-AzsInfrastructureRole | Unregister-AzsInfrastructureRole -PassThru -WhatIf } }
        @{ Command = 'Invoke-AzsPruneBackupLocationExternalStore'; Run = { Invoke-AzsPruneBackupLocationExternalStore -WhatIf } }
        @{ Command = 'Add-AzsBackupNotificationTarget'; Run = { Add-AzsBackupNotificationTarget -Name 'ops' -Kind Webhook -Uri 'https://hooks.example.com/azsbackup' -Secret $pfxPassword -WhatIf } }
        @{ Command = 'Remove-AzsBackupNotificationTarget'; Run = { Get-AzsBackupNotificationTarget | Remove-AzsBackupNotificationTarget -PassThru -WhatIf } }
        @{ Command = 'Get-AzsBackupReport'; Run = { Get-AzsBackupReport -OutFile (Join-Path $deployment.StateDirectory 'report.html') -WhatIf } }
        @{ Command = 'New-AzsBackupEncryptionCertificate'; Run = { New-AzsBackupEncryptionCertificate -CerPath (Join-Path $deployment.StateDirectory 'new.cer') -PfxPath (Join-Path $deployment.StateDirectory 'new.pfx') -PfxPassword $pfxPassword -WhatIf } }
    )
}

Describe '-WhatIf changes nothing' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        . (Join-Path $PSScriptRoot 'DeploymentHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
        $fixtures = New-TestFolder
        $pfxSecret = 'Pfx-Secret-' + [guid]::NewGuid().ToString('N')
        $pfxPassword = ConvertTo-SecureString $pfxSecret -AsPlainText -Force
        $certificate = New-TestPfx -Folder $fixtures -Name 'backup' -Secret $pfxSecret
        $otherCertificate = New-TestPfx -Folder $fixtures -Name 'other' -Secret $pfxSecret

        $deployment = New-TestDeployment -CerPath $certificate.Cer
        $backup = Start-AzsBackup -Force
        foreach ($folder in $deployment.Data.Values) { Edit-TestRoleData -Folder $folder }
        New-Item -ItemType Directory -Path (Join-Path $deployment.Store "MASBackup/20200101T000000Z/$([guid]::NewGuid())") | Out-Null
        # A target for Remove- to find, added after the backup: no job or alert change follows, so no event reaches it.
        Add-AzsBackupNotificationTarget -Name 'siem' -Kind Syslog -Uri 'udp://127.0.0.1:9' | Out-Null
        $unchanged = @('logs', 'run')
    }

    AfterAll {
        Remove-TestHome -StateDirectory $deployment.StateDirectory
        Remove-Item -LiteralPath $fixtures -Recurse -Force -ErrorAction SilentlyContinue
    }

    It '<Command> -WhatIf' -ForEach $cases {
        $before = Get-FolderDigest -Folder $deployment.StateDirectory -Exclude $unchanged -WithTimes
        $output = & $Run
        $output | Should -BeNullOrEmpty
        Get-FolderDigest -Folder $deployment.StateDirectory -Exclude $unchanged -WithTimes | Should -Be $before
    }

    It 'sees the changes the same commands make without -WhatIf (the digest is sensitive to them)' {
        $before = Get-FolderDigest -Folder $deployment.StateDirectory -Exclude $unchanged -WithTimes
        Invoke-AzsPruneBackupLocationExternalStore | Out-Null
        Get-FolderDigest -Folder $deployment.StateDirectory -Exclude $unchanged -WithTimes | Should -Not -Be $before
    }
}
