/**
 * The PowerShell module end to end: a real pwsh driven through node-powershell imports the module,
 * which finds (starts) the real daemon of a temporary state folder and configures a real store.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PowerShell } from 'node-powershell';
import { removeDir, tempDir } from '../helpers/daemon.js';
import { cliMain, findPwsh, moduleManifest, pwshEnv } from '../helpers/pwsh.js';

/** A PowerShell single-quoted string literal. */
const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;

describe('AzureStackBackup module in a real pwsh', () => {
  let shell: PowerShell;
  let stateDir: string;
  let work: string;

  /**
   * Runs PowerShell in the shell's own scope and returns its standard output. The script travels as
   * one Base64 line: `pwsh -Command -` reads stdin line by line, and a multi-line statement would
   * wait for more input. Terminal mode escapes the console host writes are removed.
   */
  async function run(script: string): Promise<string> {
    const encoded = Buffer.from(script, 'utf8').toString('base64');
    const result = await shell.invoke(
      `. ([scriptblock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('${encoded}'))))`,
    );
    // eslint-disable-next-line no-control-regex
    return result.raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').trim();
  }

  /** Runs PowerShell whose last output is JSON, and parses it. */
  async function runJson<T>(command: string): Promise<T> {
    return JSON.parse(await run(command)) as T;
  }

  before(async () => {
    stateDir = tempDir('module-state');
    work = tempDir('module-work');
    mkdirSync(path.join(work, 'store'));
    shell = new PowerShell({
      executable: findPwsh(),
      executableOptions: { '-NoProfile': true, '-NonInteractive': true },
      spawnOptions: { env: pwshEnv({ AZSBACKUP_HOME: stateDir }) },
    });
    await run(
      `$ProgressPreference = 'SilentlyContinue'; Import-Module ${quote(moduleManifest)} -ErrorAction Stop`,
    );
  });

  after(async () => {
    await shell.dispose();
    spawnSync(process.execPath, [cliMain, 'stop', '--state-dir', stateDir], { stdio: 'ignore' });
    removeDir(stateDir);
    removeDir(work);
  });

  test('exports the cmdlets', async () => {
    const names = (await run('(Get-Command -Module AzureStackBackup).Name -join ","')).split(',');
    for (const name of [
      'Set-AzsBackupConfiguration',
      'Get-AzsBackupConfiguration',
      'New-AzsBackupEncryptionCertificate',
    ]) {
      assert.ok(names.includes(name), `${name} is exported`);
    }
  });

  test('creates a certificate, configures the store with it, and reads the configuration back', async () => {
    const cer = path.join(work, 'backup.cer');
    const pfx = path.join(work, 'backup.pfx');
    const certificate = await runJson<{ Thumbprint: string; CerPath: string; PfxPath: string }>(
      `$password = ConvertTo-SecureString 'Pfx-Passw0rd' -AsPlainText -Force
       New-AzsBackupEncryptionCertificate -CerPath ${quote(cer)} -PfxPath ${quote(pfx)} -PfxPassword $password | ConvertTo-Json -Compress`,
    );
    assert.match(certificate.Thumbprint, /^[0-9A-F]{40}$/);
    assert.equal(certificate.CerPath, cer);
    assert.equal(certificate.PfxPath, pfx);

    const store = path.join(work, 'store');
    await run(
      `Set-AzsBackupConfiguration -Path ${quote(store)} -EncryptionCertPath ${quote(cer)} | Out-Null`,
    );
    const location = await runJson<Record<string, unknown>>(
      'Get-AzsBackupConfiguration -WarningAction SilentlyContinue | ConvertTo-Json -Compress',
    );
    const warnings = await run(
      '$null = Get-AzsBackupConfiguration -WarningVariable found -WarningAction SilentlyContinue; $found -join " "',
    );
    assert.match(
      warnings,
      /azsbackup service install/,
      'the scheduler is on and nothing keeps the daemon alive',
    );
    assert.equal(location.Path, store);
    assert.match(String(location.EncryptionCertThumbprint), /^[0-9A-F]{40}$/);
    assert.equal(location.EncryptionCertThumbprint, certificate.Thumbprint);
    assert.equal(location.BackupFrequencyInHours, 12);
    assert.equal(location.BackupRetentionPeriodInDays, 7);
    assert.equal(location.IsBackupSchedulerEnabled, true);
    assert.equal(location.Password, null);
  });

  test('refuses frequency 3 with a message naming 4 and 12, and changes nothing', async () => {
    const before = await run(
      'Get-AzsBackupConfiguration -WarningAction SilentlyContinue | Select-Object * -ExcludeProperty AvailableCapacity | ConvertTo-Json -Compress',
    );
    const failure = await runJson<{ id: string; category: string; message: string }>(
      `try {
         Set-AzsBackupConfiguration -BackupFrequencyInHours 3 | Out-Null
         @{ id = 'no error' } | ConvertTo-Json -Compress
       } catch {
         @{ id = $_.FullyQualifiedErrorId; category = [string]$_.CategoryInfo.Category; message = $_.Exception.Message } | ConvertTo-Json -Compress
       }`,
    );
    assert.equal(failure.id, 'AzsBackup.InvalidRange,Set-AzsBackupConfiguration');
    assert.equal(failure.category, 'InvalidArgument');
    assert.match(failure.message, /\b4\b/);
    assert.match(failure.message, /\b12\b/);
    const after = await run(
      'Get-AzsBackupConfiguration -WarningAction SilentlyContinue | Select-Object * -ExcludeProperty AvailableCapacity | ConvertTo-Json -Compress',
    );
    assert.equal(after, before);
  });
});
