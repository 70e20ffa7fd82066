/**
 * The PowerShell module end to end: a real pwsh driven through node-powershell imports the module,
 * which finds (starts) the real daemon of a temporary state folder and configures a real store.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { removeDir, tempDir } from '../helpers/daemon.js';
import { cliMain } from '../helpers/pwsh.js';
import { PwshSession, quote } from '../helpers/pwshSession.js';

describe('AzureStackBackup module in a real pwsh', () => {
  let shell: PwshSession;
  let stateDir: string;
  let work: string;

  const run = (script: string) => shell.run(script);
  const runJson = <T>(command: string) => shell.runJson<T>(command);

  before(async () => {
    stateDir = tempDir('module-state');
    work = tempDir('module-work');
    mkdirSync(path.join(work, 'store'));
    shell = await PwshSession.start({ AZSBACKUP_HOME: stateDir });
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
