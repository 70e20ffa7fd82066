# Get-AzsBackupReport in a test deployment: the report file and its typed object, -WhatIf, an
# existing file without -Force, a folder that does not exist, a relative -OutFile, pipeline input.

Describe 'Get-AzsBackupReport' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        . (Join-Path $PSScriptRoot 'DeploymentHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
        $fixtures = New-TestFolder
        $certificate = New-TestCertificate -Folder $fixtures
        $deployment = New-TestDeployment -CerPath $certificate
        Start-AzsBackup -Force | Out-Null
        $reports = New-TestFolder
    }

    AfterAll {
        Remove-TestHome -StateDirectory $deployment.StateDirectory
        Remove-Item -LiteralPath $fixtures, $reports -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'has help that says what the page shows, with examples' {
        $help = Get-Help -Name Get-AzsBackupReport -Full
        ($help.Description | Out-String) | Should -Match 'self-contained'
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        ($help.Parameters.Parameter | Where-Object Name -EQ 'OutFile').Description | Out-String | Should -Match 'relative'
    }

    It 'writes the report and returns a typed object with its path, size and counts' {
        $file = Join-Path $reports 'report.html'
        $report = Get-AzsBackupReport -OutFile $file
        $report.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.ReportFile'
        $report.Path | Should -Be $file
        $report.Bytes | Should -Be (Get-Item -LiteralPath $file).Length
        $report.Backups | Should -Be 1
        $report.ActiveAlerts | Should -Be 0
        $report.GeneratedTime.Kind | Should -Be 'Utc'
        $html = Get-Content -Raw -LiteralPath $file
        $html | Should -Match 'data-health="Healthy"'
        $html | Should -Match 'class="backup-mark" data-outcome="Succeeded"'
        $html | Should -Not -Match '<script'
        ($report | Format-Table | Out-String) | Should -Match 'GeneratedTime \(UTC\)'
    }

    It '-WhatIf writes nothing' {
        $file = Join-Path $reports 'whatif.html'
        Get-AzsBackupReport -OutFile $file -WhatIf | Should -BeNullOrEmpty
        Test-Path -LiteralPath $file | Should -BeFalse
    }

    It 'refuses an existing file without -Force (ResourceExists, the file kept); -Force replaces it' {
        $file = Join-Path $reports 'existing.html'
        Set-Content -LiteralPath $file -Value 'keep me'
        $failure = $null
        try { Get-AzsBackupReport -OutFile $file -ErrorAction Stop } catch { $failure = $_ }
        $failure.FullyQualifiedErrorId | Should -Be 'AzsBackup.ReportFileExists,Get-AzsBackupReport'
        $failure.CategoryInfo.Category | Should -Be 'ResourceExists'
        $failure.Exception.Message | Should -Match ([regex]::Escape($file))
        $failure.Exception.Message | Should -Match '-Force'
        (Get-Content -Raw -LiteralPath $file).Trim() | Should -Be 'keep me'

        (Get-AzsBackupReport -OutFile $file -Force).Path | Should -Be $file
        Get-Content -Raw -LiteralPath $file | Should -Match '^<!DOCTYPE html>'
    }

    It 'refuses a folder that does not exist, naming OutFile' {
        $file = Join-Path $reports 'missing/report.html'
        { Get-AzsBackupReport -OutFile $file -ErrorAction Stop } |
            Should -Throw -ErrorId 'AzsBackup.InvalidParameter,Get-AzsBackupReport' -ExpectedMessage '*OutFile*does not exist*'
    }

    It 'resolves a relative -OutFile against the current location' {
        Push-Location -LiteralPath $reports
        try { $report = Get-AzsBackupReport -OutFile 'relative.html' } finally { Pop-Location }
        $report.Path | Should -Be (Join-Path $reports 'relative.html')
        Test-Path -LiteralPath $report.Path | Should -BeTrue
    }

    It 'takes OutFile, or a file''s FullName, from the pipeline: one report per object' {
        $targets = 'a.html', 'b.html' | ForEach-Object { [pscustomobject]@{ OutFile = Join-Path $reports $_ } }
        $written = @($targets | Get-AzsBackupReport)
        $written.Count | Should -Be 2
        $written.Path | Should -Be $targets.OutFile
        (Get-Item -LiteralPath $targets[0].OutFile | Get-AzsBackupReport -Force).Path | Should -Be $targets[0].OutFile
    }
}
