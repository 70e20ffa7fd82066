# The conceptual help topic en-US/about_AzureStackBackup.help.txt: found by Get-Help once the module
# is imported, in the standard about_ layout, and every line fits an 80-column console.

Describe 'about_AzureStackBackup' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
        $topicFile = Join-Path $script:RepoRoot 'en-US/about_AzureStackBackup.help.txt'
        $lines = @(Get-Content -LiteralPath $topicFile)
    }

    It 'is found by Get-Help after Import-Module' {
        $topic = Get-Help -Name about_AzureStackBackup | Out-String
        $topic | Should -Match 'about_AzureStackBackup'
        $topic | Should -Match 'CLOUD RECOVERY'
    }

    It 'has the standard sections in order' {
        $sections = @($lines | Where-Object { $_ -cmatch '^[A-Z][A-Z ]+$' })
        $sections | Should -Be @('TOPIC', 'SHORT DESCRIPTION', 'LONG DESCRIPTION', 'EXAMPLES', 'TROUBLESHOOTING NOTE', 'SEE ALSO', 'KEYWORDS')
        $lines[1].Trim() | Should -Be 'about_AzureStackBackup'
    }

    It 'keeps every line within 80 characters and uses no tabs' {
        @($lines | Where-Object { $_.Length -gt 80 }) | Should -BeNullOrEmpty
        @($lines | Where-Object { $_.Contains("`t") }) | Should -BeNullOrEmpty
    }

    It 'walks through <_>' -ForEach @(
        'New-AzsBackupEncryptionCertificate', 'Test-AzsBackupShareAccessibility', 'Register-AzsInfrastructureRole',
        'BackupFrequencyInHours', 'BackupRetentionPeriodInDays', 'IsBackupSchedulerEnabled', 'Start-AzsBackup',
        'Get-AzsBackupAlert', 'Restore-AzsBackup', 'Invoke-Command', 'azsbackup extract', 'azsbackup service install'
    ) {
        ($lines -join "`n") | Should -Match ([regex]::Escape($_))
    }

    It 'names the blob container beside the share and the folder where it lists the stores, and its credential' {
        $text = $lines -join "`n"
        $text | Should -Match 'SMB share, a folder or an Azure Blob Storage container'
        $text | Should -Match 'blob\.core\.windows\.net'
        $text | Should -Match "Azure Stack Hub's blob\s+endpoint"
        $text | Should -Match 'SAS token for the container'
    }

    It 'names only cmdlets the module exports' {
        $exported = @((Get-Module -Name AzureStackBackup).ExportedCommands.Keys)
        $named = @([regex]::Matches(($lines -join "`n"), '\b[A-Z][a-z]+-Azs[A-Za-z]+\b') | ForEach-Object Value | Sort-Object -Unique)
        foreach ($name in $named) { $exported | Should -Contain $name }
    }
}
