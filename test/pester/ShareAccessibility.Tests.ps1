# Test-AzsBackupShareAccessibility against a real daemon: local folders, and a blob container on Azurite.

Describe 'Test-AzsBackupShareAccessibility' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
    }

    BeforeEach {
        $stateDirectory = New-TestHome
        $store = (New-Item -ItemType Directory -Path (Join-Path $stateDirectory 'store')).FullName
    }

    AfterEach {
        Remove-TestHome -StateDirectory $stateDirectory
    }

    It 'checks the configured store: every check passes and the probe file is gone' {
        Set-AzsBackupConfiguration -Path $store | Out-Null
        $tests = @(Test-AzsBackupShareAccessibility)
        $tests.Count | Should -BeGreaterOrEqual 5
        $tests | ForEach-Object { $_.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.ShareTest' }
        @($tests | Where-Object { -not $_.Passed }) | Should -BeNullOrEmpty
        @($tests.Check) | Should -Contain 'Write'
        @($tests.Check) | Should -Contain 'Capacity'
        Get-ChildItem -LiteralPath $store -Force | Should -BeNullOrEmpty
    }

    It 'checks another path given with -Path (relative to the current location) without saving it' {
        Push-Location -LiteralPath $stateDirectory
        try {
            $tests = @(Test-AzsBackupShareAccessibility -Path './store')
        } finally {
            Pop-Location
        }
        @($tests | Where-Object { -not $_.Passed }) | Should -BeNullOrEmpty
        (Get-AzsBackupConfiguration).Path | Should -BeNullOrEmpty
    }

    It 'reports a missing folder as a failed check with a fix, and saves nothing' {
        Set-AzsBackupConfiguration -Path $store | Out-Null
        $before = Get-ConfigurationJson
        $tests = @(Test-AzsBackupShareAccessibility -Path (Join-Path $stateDirectory 'missing'))
        $failed = @($tests | Where-Object { -not $_.Passed })
        $failed.Count | Should -Be 1
        $failed[0].Check | Should -Be 'Reachability'
        $failed[0].Fix | Should -Not -BeNullOrEmpty
        Get-ConfigurationJson | Should -Be $before
    }

    It 'fails with AzsBackup.NotConfigured when no store is configured and none is given' {
        { Test-AzsBackupShareAccessibility } | Should -Throw -ErrorId 'AzsBackup.NotConfigured,Test-AzsBackupShareAccessibility'
    }

    Context 'a blob container (Azurite)' {
        BeforeAll {
            $script:Azurite = Start-TestAzurite
            $script:Key = ConvertTo-SecureString -String $script:Azurite.Key -AsPlainText -Force
        }

        AfterAll {
            Stop-TestAzurite -Azurite $script:Azurite
        }

        It 'reaches, authenticates, writes, reads and deletes a probe, and says capacity is unknown' {
            $path = "$($script:Azurite.ContainerUrl)/stamp1"
            $tests = @(Test-AzsBackupShareAccessibility -Path $path -UserName $script:Azurite.Account -Password $script:Key)
            @($tests | Where-Object { -not $_.Passed }) | Should -BeNullOrEmpty
            @($tests.Check) | Should -Be @('Reachability', 'Protocol', 'Write', 'Read', 'Delete', 'Capacity')
            ($tests | Where-Object Check -EQ 'Protocol').Detail | Should -Match 'Azure Blob over HTTP, not encrypted'
            ($tests | Where-Object Check -EQ 'Capacity').Detail | Should -Match '^Unknown'
        }

        It 'reports a wrong key as a failed reachability check, with a fix' {
            $wrong = ConvertTo-SecureString -String ([Convert]::ToBase64String([byte[]]::new(64))) -AsPlainText -Force
            $tests = @(Test-AzsBackupShareAccessibility -Path $script:Azurite.ContainerUrl -UserName $script:Azurite.Account -Password $wrong)
            $tests.Count | Should -Be 1
            $tests[0].Passed | Should -BeFalse
            $tests[0].Detail | Should -Match "account key of 'devstoreaccount1' was refused"
            $tests[0].Fix | Should -Match 'SAS token for the container, or the account key'
        }

        It 'reports a missing container' {
            $missing = $script:Azurite.ContainerUrl -replace '/backups$', '/missing'
            $tests = @(Test-AzsBackupShareAccessibility -Path $missing -UserName $script:Azurite.Account -Password $script:Key)
            $tests[0].Passed | Should -BeFalse
            $tests[0].Detail | Should -Match "no container named 'missing'"
            $tests[0].Fix | Should -Match 'Create the container'
        }
    }
}
