# Format 4, the deduplicating repository's preview (docs/format.md), through the cmdlets: a real
# daemon started by the module with AZSBACKUP_FORMAT=4 in its environment, a local store and real
# certificates (openssl .cer/.pfx). The cmdlets list, test, restore and prune these backups as they do
# format 3's; only the store's layout differs.

Describe 'Format 4 (the deduplicating repository) through the cmdlets' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        . (Join-Path $PSScriptRoot 'DeploymentHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
        $fixtures = New-TestFolder
        $pfxSecret = 'Pfx-Secret-' + [guid]::NewGuid().ToString('N')
        $pfxPassword = ConvertTo-SecureString $pfxSecret -AsPlainText -Force
        $certificate = New-TestPfx -Folder $fixtures -Name 'backup' -Secret $pfxSecret
        $decryption = @{ DecryptionCertPath = $certificate.Pfx; DecryptionCertPassword = $pfxPassword }

        # Only the daemon this file's deployment starts writes format 4: the variable goes in AfterAll.
        $env:AZSBACKUP_FORMAT = '4'
        $deployment = New-TestDeployment -CerPath $certificate.Cer
        # A role of 20 MiB of random data (several packs) in the first backup only: once that backup
        # is gone, its packs are used by no backup.
        $scratch = New-TestRoleFolder -StateDirectory $deployment.StateDirectory -Name 'data/Scratch'
        $random = [byte[]]::new(20MB)
        [System.Random]::new(20).NextBytes($random)
        [System.IO.File]::WriteAllBytes((Join-Path $scratch 'image.bin'), $random)
        Register-AzsInfrastructureRole -Name Scratch -Provider Directory -Path $scratch | Out-Null

        $first = Start-AzsBackup -Force
        Unregister-AzsInfrastructureRole -Name Scratch -Confirm:$false
        Edit-TestRoleData -Folder $deployment.Data.CA
        $backedUp = Get-RoleDigests -Deployment $deployment
        $second = Start-AzsBackup -Force

        $repository = Join-Path $deployment.Store 'MASBackup/Repository'
        function Get-Manifest($Backup) {
            Get-Content -Raw -LiteralPath (Get-ChildItem -Path (Join-Path $deployment.Store "MASBackup/*/$($Backup.BackupId)/BackupInfo.json")).FullName |
                ConvertFrom-Json
        }
        function Get-PackPath([string] $Name) {
            (Get-ChildItem -Path (Join-Path $repository "*/packs/$Name.pack")).FullName
        }
        function Edit-EveryRole {
            # The data moves on after the backup: a file rewritten, a folder removed.
            foreach ($folder in $deployment.Data.Values) {
                Set-Content -LiteralPath (Join-Path $folder 'file2.txt') -Value 'changed after the backup'
                Remove-Item -LiteralPath (Join-Path $folder 'nested') -Recurse
            }
        }
    }

    AfterAll {
        Remove-TestHome -StateDirectory $deployment.StateDirectory
        Remove-Item -Path Env:AZSBACKUP_FORMAT -ErrorAction SilentlyContinue
        Remove-Item -LiteralPath $fixtures -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'writes each backup in format 4: a manifest alone in its folder, the data in the repository' {
        foreach ($backup in $first, $second) {
            $backup.Status | Should -Be 'Succeeded'
            (Get-Manifest $backup).FormatVersion | Should -Be 4
            $folder = (Get-ChildItem -Path (Join-Path $deployment.Store "MASBackup/*/$($backup.BackupId)")).FullName
            @(Get-ChildItem -LiteralPath $folder -Recurse -File).Name | Should -Be @('BackupInfo.json')
        }
        @(Get-ChildItem -Path (Join-Path $repository '*/packs/*.pack')).Count | Should -BeGreaterThan 2
        @(Get-ChildItem -Path (Join-Path $repository '*/index/*.index')).Count | Should -Be 2
    }

    It 'lists both backups with Get-AzsBackup, as location/id, newest first' {
        $listed = @(Get-AzsBackup)
        $listed.BackupId | Should -Be @($second.BackupId, $first.BackupId)
        foreach ($backup in $listed) {
            $backup.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.Backup'
            $backup.Name | Should -Be "$($backup.Location)/$($backup.BackupId)"
            $backup.Status | Should -Be 'Succeeded'
        }
    }

    It 'stores in the second backup only what changed: a small part of what the first added' {
        $added = { param($manifest) ($manifest.Roles.Content.AddedBytes | Measure-Object -Sum).Sum }
        $firstAdded = & $added (Get-Manifest $first)
        $secondAdded = & $added (Get-Manifest $second)
        $firstAdded | Should -BeGreaterThan 20MB
        $secondAdded | Should -BeLessThan (64KB)
    }

    It 'tests every role of both backups, with the .pfx and without, piped from Get-AzsBackup' {
        foreach ($arguments in @{}, $decryption) {
            $results = @(Get-AzsBackup | Test-AzsBackup @arguments)
            $results.Count | Should -Be 5
            $results.Status | Sort-Object -Unique | Should -Be 'Succeeded'
            ($results | Where-Object BackupId -eq $first.BackupId).RoleName | Sort-Object | Should -Be @('CA', 'Scratch', 'WAS')
        }
    }

    It 'restores the newest backup exactly with Restore-AzsBackup' {
        Edit-EveryRole
        Restore-AzsBackup -Name $second.BackupId @decryption -Force | Should -BeNullOrEmpty
        Get-RoleDigests -Deployment $deployment | ConvertTo-Json | Should -Be ($backedUp | ConvertTo-Json)
    }

    Context 'a flipped byte in a pack the newest backup uses' {
        BeforeAll {
            $pack = Get-PackPath ((Get-Manifest $second).Roles | Where-Object { $_.Registration.Name -eq 'CA' }).Content.Packs[0]
            Switch-FileByte -Path $pack -Offset 100
        }

        AfterAll {
            Switch-FileByte -Path $pack -Offset 100
        }

        It 'Test-AzsBackup without the .pfx fails the role, naming the pack, in a Failed result' {
            $results = @(Test-AzsBackup -Name $second.BackupId -ErrorVariable failures)
            $failures | Should -BeNullOrEmpty
            $ca = $results | Where-Object RoleName -eq 'CA'
            $ca.Status | Should -Be 'Failed'
            $ca.File | Should -Match '^MASBackup/Repository/[0-9a-f]{32}/packs/[0-9a-f]{64}\.pack$'
            $ca.ErrorMessage | Should -Match 'SHA-256'
        }

        It 'Restore-AzsBackup refuses the role with AzsBackup.BackupCorrupt naming the pack' {
            { Restore-AzsBackup -Name $second.BackupId @decryption -RoleName CA -Force } |
                Should -Throw -ErrorId 'AzsBackup.BackupCorrupt,Restore-AzsBackup' -PassThru |
                ForEach-Object { $_.Exception.Message | Should -Match '\.pack' }
        }
    }

    Context 'once the first backup is gone' {
        BeforeAll {
            # What retention does when the first backup ages out: its folder (its manifest) is deleted.
            Remove-Item -LiteralPath (Get-ChildItem -Path (Join-Path $deployment.Store "MASBackup/*/$($first.BackupId)")).FullName -Recurse
            $used = @((Get-Manifest $second).Roles.Content.Packs | ForEach-Object { Get-PackPath $_ })
        }

        It 'lists with -OperationType DryRun the packs no backup uses, and removes nothing' {
            $before = Get-FolderDigest -Folder $deployment.Store
            $result = Invoke-AzsPruneBackupLocationExternalStore -OperationType DryRun
            $unused = @($result.PathsToDelete | Where-Object { $_ -like '*.pack' })
            $unused.Count | Should -BeGreaterThan 1
            $unused | Where-Object { $_ -in $used } | Should -BeNullOrEmpty
            Get-FolderDigest -Folder $deployment.Store | Should -Be $before
        }

        It 'removes them, and the remaining backup still tests and restores whole' {
            $result = Invoke-AzsPruneBackupLocationExternalStore
            foreach ($path in $result.PathsToDelete) { Test-Path -LiteralPath $path | Should -BeFalse }
            foreach ($path in $used) { Test-Path -LiteralPath $path | Should -BeTrue }
            @(Test-AzsBackup -Name $second.BackupId @decryption).Status | Should -Be @('Succeeded', 'Succeeded')
            Edit-EveryRole
            Restore-AzsBackup -Name $second.BackupId @decryption -Force | Should -BeNullOrEmpty
            Get-RoleDigests -Deployment $deployment | ConvertTo-Json | Should -Be ($backedUp | ConvertTo-Json)
        }
    }
}
