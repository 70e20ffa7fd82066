# Test-AzsBackupShareAccessibility against a real daemon and local folders.

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
}
