# Shared by the *.Tests.ps1 files: a private state folder (AZSBACKUP_HOME) per test, whose daemon
# is stopped and whose files are removed at the end; certificates and other fixtures.

$script:RepoRoot = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
$script:ManifestPath = Join-Path $script:RepoRoot 'AzureStackBackup.psd1'
$script:CliPath = Join-Path $script:RepoRoot 'dist/src/cli/main.js'

function New-TestFolder {
    $folder = Join-Path ([System.IO.Path]::GetTempPath()) ('azs-pester-' + [guid]::NewGuid().ToString('N').Substring(0, 12))
    (New-Item -ItemType Directory -Path $folder).FullName
}

function New-TestHome {
    <# A new, empty state folder for this test; the first cmdlet starts its daemon. #>
    $folder = New-TestFolder
    $env:AZSBACKUP_HOME = $folder
    Remove-Item -Path Env:AZSBACKUP_SOCKET -ErrorAction SilentlyContinue
    $folder
}

function Stop-TestDaemon([string] $StateDirectory) {
    <# azsbackup stop; should the CLI itself fail, the daemon is ended by the pid in its lock file. #>
    $lock = Join-Path $StateDirectory 'run/daemon.pid'
    $daemonPid = if (Test-Path -LiteralPath $lock) { [int](Get-Content -Raw -LiteralPath $lock) } else { 0 }
    & node $script:CliPath stop --json --state-dir $StateDirectory 2>$null | Out-Null
    if ($daemonPid -and (Get-Process -Id $daemonPid -ErrorAction SilentlyContinue)) {
        Stop-Process -Id $daemonPid -Force -ErrorAction SilentlyContinue
    }
}

function Remove-TestHome([string] $StateDirectory) {
    Stop-TestDaemon -StateDirectory $StateDirectory
    Remove-Item -Path Env:AZSBACKUP_HOME -ErrorAction SilentlyContinue
    Remove-Item -Path Env:AZSBACKUP_SOCKET -ErrorAction SilentlyContinue
    Remove-Item -LiteralPath $StateDirectory, "$StateDirectory-roles" -Recurse -Force -ErrorAction SilentlyContinue
}

function New-TestRoleFolder([string] $StateDirectory, [string] $Name) {
    <#
    A folder for a role's data, under <state folder>-roles: the daemon refuses a role path inside its
    state folder. Remove-TestHome removes it with the state folder.
    #>
    (New-Item -ItemType Directory -Force -Path (Join-Path "$StateDirectory-roles" $Name)).FullName
}

function Get-TestDaemonStatus([string] $StateDirectory) {
    & node $script:CliPath status --json --state-dir $StateDirectory | ConvertFrom-Json
}

function Get-ConfigurationJson {
    <# The saved configuration as text, to compare before and after a failed change. #>
    Get-AzsBackupConfiguration | Select-Object -Property * -ExcludeProperty AvailableCapacity | ConvertTo-Json -Compress
}

function New-TestCertificate {
    <# A public certificate (PEM .cer) and its key, made with openssl; -Days sets its validity. #>
    param([Parameter(Mandatory)] [string] $Folder, [int] $Days = 365, [string] $Name = 'test')
    $cer = Join-Path $Folder "$Name.cer"
    $key = Join-Path $Folder "$Name.key"
    & openssl req -x509 -newkey rsa:3072 -nodes -keyout $key -out $cer -days $Days -subj "/CN=$Name" 2>$null
    if ($LASTEXITCODE -ne 0) { throw "openssl could not create a test certificate in $Folder" }
    $cer
}

function New-ExpiredTestCertificate {
    <#
    A PEM certificate that expired yesterday. This openssl (3.0) has no -not_before/-not_after, so
    node-forge (a dependency of the engine) signs one with the validity in the past.
    #>
    param([Parameter(Mandatory)] [string] $Folder)
    $cer = Join-Path $Folder 'expired.cer'
    $script = @'
const forge = require('node-forge');
const { generateKeyPairSync } = require('node:crypto');
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
const cert = forge.pki.createCertificate();
cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }));
cert.serialNumber = '01';
const day = 24 * 3600 * 1000;
cert.validity.notBefore = new Date(Date.now() - 30 * day);
cert.validity.notAfter = new Date(Date.now() - day);
cert.setSubject([{ shortName: 'CN', value: 'expired' }]);
cert.setIssuer([{ shortName: 'CN', value: 'expired' }]);
cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' })), forge.md.sha256.create());
require('node:fs').writeFileSync(process.argv[1], forge.pki.certificateToPem(cert));
'@
    Push-Location -LiteralPath $script:RepoRoot
    try { & node -e $script $cer } finally { Pop-Location }
    if ($LASTEXITCODE -ne 0) { throw 'node could not create the expired test certificate' }
    $cer
}

function Invoke-NewPwsh {
    <# Runs a command in a new pwsh process (same environment, through scripts/pwsh.sh) and returns its output lines. #>
    param([Parameter(Mandatory)] [string] $Command)
    & bash (Join-Path $script:RepoRoot 'scripts/pwsh.sh') -NonInteractive -Command $Command
}

function Get-FilesContaining {
    <# Files under Folder whose bytes contain Text (UTF-8), like grep -rl. #>
    param([Parameter(Mandatory)] [string] $Folder, [Parameter(Mandatory)] [string] $Text)
    & grep -rlaF -- $Text $Folder
}

function Start-TestAzurite {
    <#
    A real blob endpoint: Azurite on 127.0.0.1 (dist/test/helpers/azuriteMain.js) with one empty
    container. Returns the process and ContainerUrl, Account, Key (the account key, in clear: a test
    fixture); Invoke-TestAzurite sends it commands, Stop-TestAzurite stops it.
    #>
    $start = [System.Diagnostics.ProcessStartInfo]::new('node', (Join-Path $script:RepoRoot 'dist/test/helpers/azuriteMain.js'))
    $start.RedirectStandardInput = $true
    $start.RedirectStandardOutput = $true
    $process = [System.Diagnostics.Process]::Start($start)
    $first = $process.StandardOutput.ReadLine() | ConvertFrom-Json
    if (-not $first) { throw 'Azurite did not start (dist/test/helpers/azuriteMain.js printed nothing): run npm run build.' }
    [pscustomobject]@{ Process = $process; ContainerUrl = $first.containerUrl; Account = $first.account; Key = $first.key }
}

function Invoke-TestAzurite {
    <# One command of azuriteMain.js (create, delete, sas, rotate-key; see there) and its answer; throws its error. #>
    param([Parameter(Mandatory)] $Azurite, [Parameter(Mandatory)] [string] $Command)
    $Azurite.Process.StandardInput.WriteLine($Command)
    $Azurite.Process.StandardInput.Flush()
    $answer = $Azurite.Process.StandardOutput.ReadLine() | ConvertFrom-Json
    if (-not $answer -or $answer.PSObject.Properties['error']) { throw "Azurite command '$Command' failed: $($answer.error)" }
    $answer
}

function Stop-TestAzurite {
    <# Closes Azurite's standard input: it stops and removes its folder. #>
    param([Parameter(Mandatory)] $Azurite)
    $Azurite.Process.StandardInput.Close()
    if (-not $Azurite.Process.WaitForExit(20000)) { $Azurite.Process.Kill() }
}
