# Runs every Pester test of the PowerShell module in this pwsh (real daemon, real files) and ends
# with one line, "Pester: <passed> passed, <failed> failed", which scripts/test.sh reads.
# Exits 1 when anything failed, including a test file that could not run.
[CmdletBinding()]
param(
    # Test files or folders to run; every *.Tests.ps1 here by default.
    [string[]] $Path = @($PSScriptRoot)
)

$pesterManifest = Join-Path $HOME '.nuget/packages/pester/5.7.1/tools/Pester.psd1'
if (-not (Test-Path -LiteralPath $pesterManifest)) {
    Write-Host "Pester 5.7.1 is missing ($pesterManifest): run scripts/install-test-deps.sh."
    Write-Host 'Pester: 0 passed, 1 failed'
    exit 1
}
Import-Module -Name $pesterManifest -Force

$configuration = New-PesterConfiguration
$configuration.Run.Path = @($Path | ForEach-Object { $_ -split ',' })
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Detailed'
$configuration.Output.RenderMode = 'Plaintext'
try {
    $result = Invoke-Pester -Configuration $configuration
    $passed = $result.PassedCount
    $failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
} catch {
    Write-Host "Pester could not run: $_"
    $passed = 0
    $failed = 1
}
Write-Host "Pester: $passed passed, $failed failed"
if ($failed -gt 0) { exit 1 }
exit 0
