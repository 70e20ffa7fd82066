/**
 * The disaster-recovery drill, end to end in real pwsh against real Samba: deployment A (a folder,
 * a live SQLite database under a writer, a PowerShell role) backs up to the share; A's data and
 * state folder are destroyed; deployment B, a new state folder on the same share, finds the backup
 * and restores it with the .pfx; every role's data is back exactly and the roles are registered again.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { test } from 'node:test';
import { removeDir, tempDir } from '../helpers/daemon.js';
import {
  createDatabase,
  createDirectoryRoleData,
  PFX_PASSWORD,
  subscriptionRows,
} from '../helpers/deployment.js';
import { cliMain, repoRoot } from '../helpers/pwsh.js';
import { PwshSession, quote } from '../helpers/pwshSession.js';
import { describeTree, withoutTimes } from '../helpers/roleEntries.js';
import { SambaServer } from '../helpers/samba.js';
import { batchProblems } from '../helpers/sqliteChurn.js';

test('cloud recovery drill: a destroyed deployment restored on a fresh one from an SMB share', async () => {
  const server = await SambaServer.start();
  const root = tempDir('drill');
  const data = path.join(root, 'data');
  const folder = path.join(data, 'CA');
  const database = path.join(data, 'WAS.db');
  const scripted = path.join(data, 'ECE');
  const stateA = path.join(root, 'state-a');
  const stateB = path.join(root, 'state-b');
  const certs = path.join(root, 'certs');
  const env = {
    AZS_SHARE_USER: server.user,
    AZS_SHARE_PASSWORD: server.password,
    AZS_PFX_PASSWORD: PFX_PASSWORD,
  };
  const share = server.uncPath('backup', 'contoso', 'east');
  mkdirSync(path.join(server.sharePath('backup'), 'contoso', 'east'), { recursive: true });
  spawnSync('chmod', ['-R', 'a+rwX', server.sharePath('backup')]);
  for (const dir of [folder, scripted, certs]) mkdirSync(dir, { recursive: true });
  createDirectoryRoleData(folder);
  createDatabase(database, 3000);
  mkdirSync(path.join(scripted, 'nodes'), { recursive: true });
  spawnSync('sh', [
    '-c',
    `for i in 1 2 3; do echo "<Node Id=\\"$i\\"/>" > "${scripted}/nodes/node-$i.xml"; done`,
  ]);
  const credentials = `-UserName $env:AZS_SHARE_USER -Password (ConvertTo-SecureString $env:AZS_SHARE_PASSWORD -AsPlainText -Force)`;
  const pfxPassword = '(ConvertTo-SecureString $env:AZS_PFX_PASSWORD -AsPlainText -Force)';
  let a: PwshSession | undefined;
  let b: PwshSession | undefined;
  // A writer at full speed that keeps the database small, for a few seconds around the backup's start.
  const writer = spawn(
    process.execPath,
    [path.join(repoRoot, 'dist', 'test', 'helpers', 'sqliteChurn.js'), database, 'wal'],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  try {
    a = await PwshSession.start({ ...env, AZSBACKUP_HOME: stateA });
    await a.run(`$cert = New-AzsBackupEncryptionCertificate -CerPath ${quote(path.join(certs, 'backup.cer'))} -PfxPath ${quote(path.join(certs, 'backup.pfx'))} -PfxPassword ${pfxPassword}
      $null = Set-AzsBackupConfiguration -Path ${quote(share)} ${credentials} -EncryptionCertPath $cert.CerPath
      $null = Register-AzsInfrastructureRole -Name CA -Provider Directory -Path ${quote(folder)}
      $null = Register-AzsInfrastructureRole -Name WAS -Provider Sqlite -Path ${quote(database)}
      $null = Register-AzsInfrastructureRole -Name ECE -Provider PowerShell -BackupScript { Copy-Item -Path (Join-Path ${quote(scripted)} '*') -Destination $StagingPath -Recurse } -RestoreScript { $null = New-Item -ItemType Directory -Force -Path ${quote(scripted)}; Copy-Item -Path (Join-Path $StagingPath '*') -Destination ${quote(scripted)} -Recurse -Force }`);
    // The writer's few seconds start once it writes: on a loaded machine starting it can take longer.
    await Promise.race([
      once(writer.stdout, 'data'),
      once(writer, 'exit').then(() => assert.fail('the SQLite writer stopped before it wrote')),
    ]);
    setTimeout(() => writer.kill('SIGKILL'), 8000).unref();
    const backup = await a.runJson<{ BackupId: string; Status: string; DeploymentId: string }>(
      'Start-AzsBackup -Force | Select-Object BackupId, Status, DeploymentId | ConvertTo-Json -Compress',
    );
    writer.kill('SIGKILL');
    assert.equal(backup.Status, 'Succeeded');
    const expected = {
      folder: withoutTimes(await describeTree(folder)),
      scripted: withoutTimes(await describeTree(scripted)),
    };

    // What the backup holds of the live database, read independently with azsbackup extract.
    const stamp = readdirSync(path.join(server.sharePath('backup'), 'contoso', 'east', 'MASBackup'))[0]!;
    const extracted = path.join(root, 'extracted');
    const extract = spawnSync(
      process.execPath,
      [
        cliMain,
        'extract',
        '--backup',
        path.join(server.sharePath('backup'), 'contoso', 'east', 'MASBackup', stamp, backup.BackupId),
        '--pfx',
        path.join(certs, 'backup.pfx'),
        '--out',
        extracted,
        '--role',
        'WAS',
      ],
      { env: { ...process.env, AZSBACKUP_PFX_PASSWORD: PFX_PASSWORD }, encoding: 'utf8' },
    );
    assert.equal(extract.status, 0, extract.stderr);
    const snapshotRows = subscriptionRows(path.join(extracted, 'WAS', 'WAS.db'));

    // Disaster: deployment A is gone, data and state.
    await a.dispose();
    a = undefined;
    spawnSync(process.execPath, [cliMain, 'stop', '--state-dir', stateA], { stdio: 'ignore' });
    for (const lost of [data, stateA]) rmSync(lost, { recursive: true, force: true });

    b = await PwshSession.start({ ...env, AZSBACKUP_HOME: stateB });
    await b.run(`$null = Set-AzsBackupConfiguration -Path ${quote(share)} ${credentials}`);
    const found = await b.runJson<Array<{ BackupId: string; DeploymentId: string }>>(
      'ConvertTo-Json -Compress -InputObject @(Get-AzsBackup | Select-Object BackupId, DeploymentId, IsKnownToDeployment)',
    );
    assert.deepEqual(found, [
      { BackupId: backup.BackupId, DeploymentId: backup.DeploymentId, IsKnownToDeployment: false },
    ]);
    // B did not write this backup: its roles' registrations are accepted explicitly.
    const restored = await b.run(
      `Get-AzsBackup -Name ${quote(backup.BackupId)} | Restore-AzsBackup -DecryptionCertPath ${quote(path.join(certs, 'backup.pfx'))} -DecryptionCertPassword ${pfxPassword} -AcceptBackupRoles -Force -PassThru`,
    );
    assert.equal(restored, 'True');

    assert.deepEqual(withoutTimes(await describeTree(folder)), expected.folder);
    assert.deepEqual(withoutTimes(await describeTree(scripted)), expected.scripted);
    assert.equal(subscriptionRows(database), snapshotRows, 'the restored database has the snapshot rows');
    assert.deepEqual(batchProblems(database), [], 'only whole transactions of the live writer');
    const roles = await b.run('(Get-AzsInfrastructureRole | Sort-Object Name).Name -join ","');
    assert.equal(roles, 'CA,ECE,WAS');
  } finally {
    writer.kill('SIGKILL');
    await a?.dispose();
    await b?.dispose();
    for (const state of [stateA, stateB])
      spawnSync(process.execPath, [cliMain, 'stop', '--state-dir', state], { stdio: 'ignore' });
    await server.dispose();
    removeDir(root);
  }
});
