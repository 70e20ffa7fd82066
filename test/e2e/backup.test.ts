/**
 * The backup job end to end on a real daemon: real roles (folder, live SQLite, pwsh script), real
 * certificate, real store folder, and `azsbackup extract` as the independent reader.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { RpcError } from '../../src/daemon/client.js';
import { describeTree, withoutTimes } from '../helpers/roleEntries.js';
import { removeDir, startDaemon, tempDir, type TestDaemon } from '../helpers/daemon.js';
import { createDeployment, PFX_PASSWORD, type Deployment } from '../helpers/deployment.js';
import { cliMain, repoRoot } from '../helpers/pwsh.js';

function backupFolders(store: string): string[] {
  const root = path.join(store, 'MASBackup');
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((stamp) =>
    readdirSync(path.join(root, stamp)).map((id) => path.join(root, stamp, id)),
  );
}

function extract(folder: string, out: string, password = PFX_PASSWORD, pfx?: string) {
  return spawnSync(
    process.execPath,
    [cliMain, 'extract', '--backup', folder, '--pfx', pfx ?? '', '--out', out, '--json'],
    {
      env: { ...process.env, AZSBACKUP_PFX_PASSWORD: password },
      encoding: 'utf8',
    },
  );
}

describe('backup round trip', () => {
  let daemon: TestDaemon;
  let deployment: Deployment;
  const cleanup: string[] = [];

  before(async () => {
    daemon = startDaemon();
    deployment = await createDeployment(daemon);
    cleanup.push(daemon.stateDir, deployment.root);
  });
  after(() => {
    daemon.stop();
    cleanup.forEach(removeDir);
  });

  test('every provider round-trips through azsbackup extract, with a live SQLite writer running', async () => {
    const writer = spawn(
      process.execPath,
      [
        path.join(repoRoot, 'dist', 'test', 'helpers', 'sqliteWriter.js'),
        deployment.database,
        'write',
        'wal',
      ],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    setTimeout(() => writer.kill('SIGKILL'), 8000).unref(); // never let a stuck backup fill the disk
    await new Promise((resolve) => writer.stdout.once('data', resolve));
    let backup;
    try {
      backup = await daemon.call('backup.start', { Wait: true });
    } finally {
      writer.kill('SIGKILL');
    }
    assert.equal(backup.Status, 'Succeeded', JSON.stringify(backup.RoleStatus));
    assert.equal(backup.IsCloudRecoveryReady, true);
    assert.match(backup.TimeTakenToCreate ?? '', /^PT/);
    assert.ok(backup.CompressedBackupSizeInKb > 0 && backup.CompressedBackupSizeInKb < backup.BackupSizeInKb);
    assert.deepEqual(readdirSync(path.join(daemon.stateDir, 'staging')), [], 'no staging copy is left');
    const timings = JSON.parse(readFileSync(path.join(daemon.stateDir, 'roleTimings.json'), 'utf8'));
    assert.deepEqual(
      Object.keys(timings).sort(),
      backup.RoleStatus.map((role) => role.RoleName).sort(),
      'each role timed for the next backup',
    );

    const [folder] = backupFolders(deployment.store);
    assert.ok(folder && existsSync(path.join(folder, 'BackupInfo.json')));
    const out = tempDir('extract');
    cleanup.push(out);
    const result = extract(folder, out, PFX_PASSWORD, deployment.pfxPath);
    assert.equal(result.status, 0, result.stderr);

    assert.deepEqual(
      withoutTimes(await describeTree(path.join(out, 'CA'))),
      withoutTimes(await describeTree(deployment.folder)),
    );
    assert.deepEqual(
      withoutTimes(await describeTree(path.join(out, 'ECE'))),
      withoutTimes(await describeTree(deployment.scripted)),
    );
    const copy = new Database(path.join(out, 'WAS', 'WAS.db'), { readonly: true });
    assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
    assert.ok((copy.prepare('SELECT count(*) AS n FROM subscriptions').get() as { n: number }).n >= 2000);
    copy.close();

    const listed = await daemon.call('backup.list', {});
    assert.deepEqual(
      listed.backups.map((item) => item.BackupId),
      [backup.BackupId],
    );
    assert.equal((await daemon.call('backup.list', { Name: `local/${backup.BackupId}` })).backups.length, 1);
    assert.equal(
      (await daemon.call('backup.list', { Name: `${backup.BackupId.slice(0, 8)}*` })).backups.length,
      1,
    );
  });

  test('extract refuses a wrong password and a wrong .pfx, writing no role data', async () => {
    const [folder] = backupFolders(deployment.store);
    const out = tempDir('extract-bad');
    cleanup.push(out);
    const wrongPassword = extract(folder!, out, 'not-the-password', deployment.pfxPath);
    assert.notEqual(wrongPassword.status, 0);
    assert.match(wrongPassword.stderr, /password/i);
    const other = tempDir('other-cert');
    cleanup.push(other);
    await daemon.call('certificate.new', {
      Subject: 'CN=Other',
      CerPath: path.join(other, 'o.cer'),
      PfxPath: path.join(other, 'o.pfx'),
      PfxPassword: PFX_PASSWORD,
      ValidityYears: 1,
    });
    const wrongPfx = extract(folder!, out, PFX_PASSWORD, path.join(other, 'o.pfx'));
    assert.notEqual(wrongPfx.status, 0);
    assert.match(wrongPfx.stderr, /thumbprint/i);
    assert.deepEqual(readdirSync(out), []);
  });
});

describe('failures during a backup', () => {
  test('a PowerShell role whose script throws gives PartialSucceeded; the other roles stay restorable', async () => {
    const daemon = startDaemon();
    const deployment = await createDeployment(daemon, { scriptThrows: true });
    const out = tempDir('partial');
    try {
      const backup = await daemon.call('backup.start', { Wait: true });
      assert.equal(backup.Status, 'PartialSucceeded');
      assert.equal(backup.IsCloudRecoveryReady, false);
      const ece = backup.RoleStatus.find((role) => role.RoleName === 'ECE');
      assert.equal(ece?.Status, 'Failed');
      assert.match(ece?.ErrorMessage ?? '', /ECE configuration store is offline/);
      const result = extract(backupFolders(deployment.store)[0]!, out, PFX_PASSWORD, deployment.pfxPath);
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(
        withoutTimes(await describeTree(path.join(out, 'CA'))),
        withoutTimes(await describeTree(deployment.folder)),
      );
      assert.equal(existsSync(path.join(out, 'ECE')), false);
    } finally {
      daemon.stop();
      [daemon.stateDir, deployment.root, out].forEach(removeDir);
    }
  });

  test('a file the daemon cannot read fails only its role, naming the file: no store alert, no role left Running', async () => {
    const daemon = startDaemon();
    const deployment = await createDeployment(daemon);
    const unreadable = path.join(deployment.folder, 'nested', 'unreadable.key');
    writeFileSync(unreadable, '');
    // Root reads any file, but not a write-only kernel setting: bound over a file of the role, it
    // fails open() with EACCES as a 0600 file does for a daemon running as another account.
    execFileSync('mount', ['--bind', '/proc/sys/vm/compact_memory', unreadable]);
    try {
      await daemon.call('role.unregister', { Name: 'ECE' });
      const backup = await daemon.call('backup.start', { Wait: true });
      assert.equal(backup.Status, 'PartialSucceeded');
      const ca = backup.RoleStatus.find((role) => role.RoleName === 'CA');
      assert.equal(ca?.Status, 'Failed');
      assert.match(ca?.ErrorMessage ?? '', new RegExp(`'${unreadable}' cannot be read \\(EACCES`));
      assert.match(ca?.ErrorMessage ?? '', /read access/);
      assert.equal(backup.RoleStatus.find((role) => role.RoleName === 'WAS')?.Status, 'Succeeded');
      const { alerts } = await daemon.call('alert.list', {});
      assert.deepEqual(
        alerts.filter((alert) => /store|fault/i.test(alert.Title)).map((alert) => alert.Title),
        [],
        'a role that cannot be read is no fault of the store',
      );
      const { jobs } = await daemon.call('job.list', {});
      const record = jobs.find((job) => job.BackupId === backup.BackupId);
      assert.equal(record?.Outcome, 'PartialSucceeded');
      assert.deepEqual(
        record?.Roles.map((role) => role.Status),
        ['Failed', 'Succeeded'],
      );
    } finally {
      execFileSync('umount', [unreadable]);
      daemon.stop();
      [daemon.stateDir, deployment.root].forEach(removeDir);
    }
  });

  test('a role whose folder comes to hold the store fails at backup time; the store is not copied into itself', async () => {
    const daemon = startDaemon();
    const deployment = await createDeployment(daemon);
    try {
      await daemon.call('role.unregister', { Name: 'ECE' });
      const store = path.join(deployment.folder, 'nested', 'store');
      mkdirSync(store);
      await daemon.call('config.set', { Path: store });
      const backup = await daemon.call('backup.start', { Wait: true });
      assert.equal(backup.Status, 'PartialSucceeded');
      const ca = backup.RoleStatus.find((role) => role.RoleName === 'CA');
      assert.equal(ca?.Status, 'Failed');
      assert.match(ca?.ErrorMessage ?? '', new RegExp(`-Path '${deployment.folder}' holds the backup store`));
      assert.deepEqual(readdirSync(path.join(backupFolders(store)[0]!)).sort(), ['BackupInfo.json', 'WAS']);
      await assert.rejects(
        daemon.call('role.register', { Name: 'Store', Provider: 'Directory', Path: store }),
        (error: unknown) => error instanceof RpcError && error.data?.reason === 'InvalidParameter',
      );
    } finally {
      daemon.stop();
      [daemon.stateDir, deployment.root].forEach(removeDir);
    }
  });

  test('a second backup while one runs is refused at once with BackupAlreadyRunning naming it', async () => {
    const daemon = startDaemon();
    const deployment = await createDeployment(daemon, { scriptSleepSeconds: 4 });
    try {
      const running = await daemon.call('backup.start', { Wait: false });
      await assert.rejects(daemon.call('backup.start', { Wait: false }), (error: unknown) => {
        assert.ok(error instanceof RpcError);
        assert.equal(error.data?.reason, 'BackupAlreadyRunning');
        assert.match(error.message, new RegExp(running.BackupId));
        return true;
      });
      const listed = await daemon.call('backup.list', {});
      assert.equal(listed.backups[0]?.Status, 'Running');
    } finally {
      daemon.stop();
      [daemon.stateDir, deployment.root].forEach(removeDir);
    }
  });

  test('kill -9 during a backup: no manifest, not listed, recorded Failed at the next start, earlier backups intact', async () => {
    const daemon = startDaemon();
    const deployment = await createDeployment(daemon, { scriptSleepSeconds: 5 });
    try {
      await daemon.call('role.unregister', { Name: 'ECE' });
      const first = await daemon.call('backup.start', { Wait: true });
      assert.equal(first.Status, 'Succeeded');
      await daemon.call('role.register', {
        Name: 'ECE',
        Provider: 'PowerShell',
        BackupScript: 'Start-Sleep -Seconds 30',
        RestoreScript: 'Write-Output restored',
      });
      const doomed = await daemon.call('backup.start', { Wait: false });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      process.kill(daemon.pid, 'SIGKILL');
      const partial = backupFolders(deployment.store).find((folder) => folder.endsWith(doomed.BackupId));
      if (partial) assert.equal(existsSync(path.join(partial, 'BackupInfo.json')), false);

      daemon.restart();
      const listed = await daemon.call('backup.list', {});
      assert.deepEqual(
        listed.backups.map((backup) => backup.BackupId),
        [first.BackupId],
      );
      const { jobs } = await daemon.call('job.list', {});
      const record = jobs.find((job) => job.BackupId === doomed.BackupId);
      assert.equal(record?.Outcome, 'Failed');
      assert.match(record?.ErrorMessage ?? '', /daemon stopped/i);
      const out = tempDir('after-crash');
      const firstFolder = backupFolders(deployment.store).find((folder) => folder.endsWith(first.BackupId))!;
      const result = extract(firstFolder, out, PFX_PASSWORD, deployment.pfxPath);
      removeDir(out);
      assert.equal(result.status, 0, result.stderr);
    } finally {
      daemon.stop();
      [daemon.stateDir, deployment.root].forEach(removeDir);
    }
  });
});
