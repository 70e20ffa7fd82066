/**
 * The PowerShell role contract end to end, in a real pwsh through the module and a real daemon: the
 * help's own PowerShell-role example, registered as written (only its folder changed), backs its
 * folder up and restores it; a backup in which the role stores nothing says so on the role's status,
 * and raises an alert when the role had data in the previous backup, closed when it has data again.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { removeDir, tempDir } from '../helpers/daemon.js';
import { cliMain } from '../helpers/pwsh.js';
import { PwshSession, quote } from '../helpers/pwshSession.js';
import { describeTree, withoutTimes } from '../helpers/roleEntries.js';

interface RoleStatus {
  RoleName: string;
  Status: string;
  ErrorMessage: string | null;
}
interface Alert {
  Title: string;
  State: string;
  Severity: string;
  Description: string;
  Remediation: string;
  BackupId: string | null;
}

const EMPTY_ROLE_ALERT = 'Infrastructure backup stored no data for a role that had data';
const PFX_PASSWORD = '(ConvertTo-SecureString Pfx-Passw0rd -AsPlainText -Force)';

describe('PowerShell role contract in a real pwsh', () => {
  let shell: PwshSession;
  let stateDir: string;
  let work: string;
  let ece: string;

  /** Runs Start-AzsBackup, checks that it succeeded, and returns its id and role statuses by name. */
  const backUp = async () => {
    const backup = await shell.runJson<{ BackupId: string; Status: string; RoleStatus: RoleStatus[] }>(
      'Start-AzsBackup -Force | Select-Object BackupId, Status, RoleStatus | ConvertTo-Json -Compress -Depth 4',
    );
    assert.equal(backup.Status, 'Succeeded', JSON.stringify(backup.RoleStatus));
    return {
      id: backup.BackupId,
      roles: Object.fromEntries(backup.RoleStatus.map((role) => [role.RoleName, role])),
    };
  };
  const emptyRoleAlerts = async () =>
    (await shell.runJson<Alert[]>('ConvertTo-Json -Compress -InputObject @(Get-AzsBackupAlert)')).filter(
      (alert) => alert.Title === EMPTY_ROLE_ALERT,
    );
  const fillEce = () => {
    mkdirSync(path.join(ece, 'nodes'), { recursive: true });
    writeFileSync(path.join(ece, 'nodes', 'node-1.xml'), '<Node Id="1"/>\n');
    writeFileSync(path.join(ece, '.settings'), 'hidden=yes\n');
  };
  const emptyEce = () => {
    for (const name of readdirSync(ece)) rmSync(path.join(ece, name), { recursive: true });
  };

  before(async () => {
    stateDir = tempDir('pwsh-role-state');
    work = tempDir('pwsh-role-work');
    ece = path.join(work, 'ece');
    mkdirSync(path.join(work, 'store'));
    mkdirSync(ece);
    shell = await PwshSession.start({ AZSBACKUP_HOME: stateDir });
    await shell.run(
      `$cert = New-AzsBackupEncryptionCertificate -CerPath ${quote(path.join(work, 'backup.cer'))} -PfxPath ${quote(path.join(work, 'backup.pfx'))} -PfxPassword ${PFX_PASSWORD}
       $null = Set-AzsBackupConfiguration -Path ${quote(path.join(work, 'store'))} -EncryptionCertPath $cert.CerPath`,
    );
  });

  after(async () => {
    await shell.dispose();
    spawnSync(process.execPath, [cliMain, 'stop', '--state-dir', stateDir], { stdio: 'ignore' });
    removeDir(stateDir);
    removeDir(work);
  });

  test("the help's PowerShell-role example backs its folder up and restores it", async () => {
    // The example as Get-Help shows it, run with the test's folder in place of /etc/ece.
    await shell.run(
      `$example = (Get-Help Register-AzsInfrastructureRole -Examples).examples.example |
         Where-Object { $_.code -like '*-Provider PowerShell*' } | Select-Object -First 1
       $null = Invoke-Expression $example.code.Replace('/etc/ece', ${quote(ece)})`,
    );
    fillEce();
    const expected = withoutTimes(await describeTree(ece));
    const backup = await backUp();
    assert.deepEqual(backup.roles.ECE, { RoleName: 'ECE', Status: 'Succeeded', ErrorMessage: null });

    emptyEce();
    const restored = await shell.run(
      `Restore-AzsBackup -Name ${quote(backup.id)} -DecryptionCertPath ${quote(path.join(work, 'backup.pfx'))} -DecryptionCertPassword ${PFX_PASSWORD} -Force -PassThru`,
    );
    assert.equal(restored, 'True');
    assert.deepEqual(withoutTimes(await describeTree(ece)), expected, 'the hidden file too');
  });

  test('a role that stores nothing is a warning, and an alert while an earlier backup holds its data', async () => {
    // A role that never had data: the warning on each backup, never the alert.
    const spare = path.join(work, 'spare');
    mkdirSync(spare);
    await shell.run(
      `$null = Register-AzsInfrastructureRole -Name Spare -Provider Directory -Path ${quote(spare)}`,
    );
    const withData = await backUp();
    assert.equal(withData.roles.ECE!.ErrorMessage, null);
    assert.equal(withData.roles.Spare!.Status, 'Succeeded');
    assert.equal(
      withData.roles.Spare!.ErrorMessage,
      `Warning: role 'Spare' stored nothing (0 files or folders): the folder '${spare}' is empty. ` +
        'A restore of this backup brings no data back for this role: check the role before relying on it.',
    );
    assert.deepEqual(await emptyRoleAlerts(), []);

    emptyEce();
    const empty = await backUp();
    assert.equal(empty.roles.ECE!.Status, 'Succeeded');
    assert.match(
      empty.roles.ECE!.ErrorMessage ?? '',
      /^Warning: role 'ECE' stored nothing \(0 files or folders\): its backup script wrote nothing into the staging folder/,
    );
    const [alert, ...more] = await emptyRoleAlerts();
    assert.equal(more.length, 0);
    assert.equal(alert!.State, 'Active');
    assert.equal(alert!.Severity, 'Critical');
    assert.equal(alert!.BackupId, empty.id);
    assert.match(
      alert!.Description,
      new RegExp(
        `^Backup ${empty.id} \\(.+\\) stored nothing for role 'ECE' \\(last stored in backup ${withData.id} of .+, which retention deletes after .+Z\\)\\.`,
      ),
    );
    assert.match(alert!.Remediation, /staging folder/);

    // Still empty: the warning again, and the alert stays open, now naming the newest backup.
    const stillEmpty = await backUp();
    assert.match(stillEmpty.roles.ECE!.ErrorMessage ?? '', /^Warning: role 'ECE' stored nothing/);
    assert.deepEqual(
      (await emptyRoleAlerts()).map((open) => [open.State, open.BackupId]),
      [['Active', stillEmpty.id]],
    );

    // ECE has data again; Spare, which never had any, does not keep the alert open.
    fillEce();
    const again = await backUp();
    assert.equal(again.roles.ECE!.ErrorMessage, null);
    assert.deepEqual(
      (await emptyRoleAlerts()).map((closed) => closed.State),
      ['Closed'],
    );
  });
});
