/**
 * Scheduler, retention, prune and alerts on a real daemon whose clock the test moves
 * (--test-hooks), with real faults on the store folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, test } from 'node:test';
import { RpcError } from '../../src/daemon/client.js';
import type { TestDaemon } from '../helpers/daemon.js';
import { removeDir, startDaemon, tempDir, waitForIdle } from '../helpers/daemon.js';
import {
  createDeployment,
  deploymentForSuite,
  PFX_PASSWORD,
  withoutStore,
  type Deployment,
} from '../helpers/deployment.js';
import { mountReadOnly, mountTmpfs, unmount } from '../helpers/mounts.js';

const HOUR = 3600_000;

async function backups(daemon: TestDaemon) {
  return (await daemon.call('backup.list', {})).backups;
}

async function activeAlerts(daemon: TestDaemon) {
  return (await daemon.call('alert.list', { State: 'Active' })).alerts;
}

describe('scheduler', () => {
  const suite = deploymentForSuite({ testHooks: true });
  let daemon: TestDaemon;
  beforeEach(() => ({ daemon } = suite()));

  test('slots every 12 h, on-demand does not shift them, disabled skips and warns, re-enabling resumes, downtime catches up once', async () => {
    const { location } = await daemon.call('config.get', {});
    const firstSlot = Date.parse(location.NextBackupTime!);
    const configuredAt = Date.now();
    assert.ok(
      Math.abs(firstSlot - configuredAt - 12 * HOUR) < 60_000,
      `first slot ${location.NextBackupTime}`,
    );

    await daemon.call('test.advanceClock', { Hours: 11 });
    await waitForIdle(daemon);
    assert.equal((await backups(daemon)).length, 0, 'nothing before the first slot');

    const manual = await daemon.call('backup.start', { Wait: true });
    assert.equal(manual.IsAutomaticBackup, false);
    assert.equal(
      (await daemon.call('config.get', {})).location.NextBackupTime,
      location.NextBackupTime,
      'on-demand does not move the slot',
    );

    await daemon.call('test.advanceClock', { Hours: 1.01 });
    await waitForIdle(daemon);
    const afterSlot = await backups(daemon);
    assert.equal(afterSlot.length, 2);
    assert.equal(afterSlot[0]!.IsAutomaticBackup, true);
    assert.equal(
      Date.parse((await daemon.call('config.get', {})).location.NextBackupTime!),
      firstSlot + 12 * HOUR,
    );

    await daemon.call('config.set', { IsBackupSchedulerEnabled: false });
    assert.ok((await activeAlerts(daemon)).some((alert) => alert.Title === 'Automatic backups are disabled'));
    await daemon.call('test.advanceClock', { Hours: 12 });
    await waitForIdle(daemon);
    assert.equal((await backups(daemon)).length, 2, 'disabled scheduler skips');
    const { jobs } = await daemon.call('job.list', {});
    assert.equal(jobs[0]!.Outcome, 'Skipped');

    await daemon.call('config.set', { IsBackupSchedulerEnabled: true });
    assert.ok(
      !(await activeAlerts(daemon)).some((alert) => alert.Title === 'Automatic backups are disabled'),
    );
    assert.equal(
      Date.parse((await daemon.call('config.get', {})).location.NextBackupTime!),
      firstSlot + 24 * HOUR,
      're-enabling resumes at the original slots',
    );

    daemon.stop();
    const clockFile = path.join(daemon.stateDir, 'test-clock.json');
    const { offsetMs } = JSON.parse(readFileSync(clockFile, 'utf8')) as { offsetMs: number };
    writeFileSync(clockFile, JSON.stringify({ offsetMs: offsetMs + 30 * HOUR }));
    daemon.restart();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await waitForIdle(daemon);
    const afterDowntime = await backups(daemon);
    assert.equal(afterDowntime.length, 3, 'exactly one catch-up backup after 30 h of downtime');
    assert.equal(afterDowntime[0]!.IsAutomaticBackup, true);
  });
});

describe('retention and prune', () => {
  test('lowering retention deletes older backups but keeps the newest recovery-ready one; prune clears leftovers', async () => {
    const daemon = startDaemon({ testHooks: true });
    const deployment = await createDeployment(daemon);
    try {
      await daemon.call('role.unregister', { Name: 'ECE' });
      await daemon.call('config.set', { IsBackupSchedulerEnabled: false });
      const old = await daemon.call('backup.start', { Wait: true });
      await daemon.call('test.advanceClock', { Hours: 24 * 3 });
      const middle = await daemon.call('backup.start', { Wait: true });
      await daemon.call('test.advanceClock', { Hours: 24 * 2.5 });
      assert.equal((await backups(daemon)).length, 2);
      await daemon.call('config.set', { BackupRetentionPeriodInDays: 2 });
      const newest = await daemon.call('backup.start', { Wait: true });
      const kept = (await backups(daemon)).map((backup) => backup.BackupId);
      assert.deepEqual(
        kept,
        [newest.BackupId],
        `kept ${kept}; old ${old.BackupId}, middle ${middle.BackupId}`,
      );

      const root = path.join(deployment.store, 'MASBackup');
      const stamp = readdirSync(root)[0]!;
      const orphan = path.join(root, '20200101T000000Z', '0b5c1f7e-0000-4000-8000-000000000001');
      mkdirSync(path.join(orphan, 'CA'), { recursive: true });
      writeFileSync(path.join(orphan, 'CA', 'CA.azsb'), 'partial upload');
      const stray = path.join(root, stamp, newest.BackupId, 'CA', 'CA.azsb.partial-1234');
      writeFileSync(stray, 'temp');
      const dry = await daemon.call('store.prune', { DryRun: true });
      assert.deepEqual(dry.PathsToDelete.sort(), [path.join(root, '20200101T000000Z'), stray].sort());
      assert.ok(readdirSync(path.join(orphan, 'CA')).length === 1, 'dry run removes nothing');
      await daemon.call('store.prune', { DryRun: false });
      assert.deepEqual(readdirSync(root), [stamp]);
      assert.deepEqual(
        (await backups(daemon)).map((backup) => backup.BackupId),
        [newest.BackupId],
      );
      assert.deepEqual((await daemon.call('store.prune', { DryRun: true })).PathsToDelete, []);
    } finally {
      daemon.stop();
      [daemon.stateDir, deployment.root].forEach(removeDir);
    }
  });
  test('role data replaced by links out of the store: the dry run lists the links, prune removes them and nothing outside, a restore reads nothing through them', async () => {
    const daemon = startDaemon();
    const deployment = await createDeployment(daemon);
    const outside = tempDir('outside');
    try {
      await daemon.call('role.unregister', { Name: 'ECE' });
      const backup = await daemon.call('backup.start', { Wait: true });
      const root = path.join(deployment.store, 'MASBackup');
      const folder = path.join(root, readdirSync(root)[0]!, backup.BackupId);
      writeFileSync(path.join(outside, 'passwd'), 'root:x:0:0');
      // A share writer swaps the CA role's folder for a link to a system folder, and WAS's file
      // for a link to a system file.
      rmSync(path.join(folder, 'CA'), { recursive: true });
      symlinkSync(outside, path.join(folder, 'CA'));
      rmSync(path.join(folder, 'WAS', 'WAS.azsb'));
      symlinkSync(path.join(outside, 'passwd'), path.join(folder, 'WAS', 'WAS.azsb'));

      await assert.rejects(
        daemon.call('backup.restore', {
          Name: backup.BackupId,
          RoleName: 'WAS',
          DecryptionCertPath: deployment.pfxPath,
          DecryptionCertPassword: PFX_PASSWORD,
          Wait: true,
        }),
        (error) => error instanceof RpcError && /symbolic link/.test(error.message),
      );
      const dry = await daemon.call('store.prune', { DryRun: true });
      assert.deepEqual(
        dry.PathsToDelete.sort(),
        [path.join(folder, 'CA'), path.join(folder, 'WAS', 'WAS.azsb')].sort(),
        'the links themselves, nothing as if inside the store',
      );
      await daemon.call('store.prune', { DryRun: false });
      assert.deepEqual(readdirSync(outside), ['passwd']);
      assert.equal(readFileSync(path.join(outside, 'passwd'), 'utf8'), 'root:x:0:0');
      assert.deepEqual(readdirSync(folder).sort(), ['BackupInfo.json', 'WAS']);
      assert.deepEqual(readdirSync(path.join(folder, 'WAS')), []);
    } finally {
      daemon.stop();
      [daemon.stateDir, deployment.root, outside].forEach(removeDir);
    }
  });
});

describe('alerts from real faults', () => {
  const suite = deploymentForSuite({ testHooks: true });
  let daemon: TestDaemon;
  let deployment: Deployment;
  beforeEach(() => ({ daemon, deployment } = suite()));

  async function failsWithAlert(title: RegExp): Promise<void> {
    await assert.rejects(daemon.call('backup.start', { Wait: true }));
    const [job] = (await daemon.call('job.list', {})).jobs;
    assert.deepEqual(
      job?.Roles.filter((role) => role.Status === 'Running'),
      [],
      'a failed job leaves no role Running',
    );
    const alert = (await activeAlerts(daemon)).find((candidate) => title.test(candidate.Title));
    assert.ok(alert, `no active alert matching ${title}`);
    assert.match(
      alert.Remediation,
      /Set-AzsBackupConfiguration|Start-AzsBackup|Test-AzsBackupShareAccessibility/,
    );
  }

  async function succeedsAndCloses(title: RegExp): Promise<void> {
    assert.equal((await daemon.call('backup.start', { Wait: true })).Status, 'Succeeded');
    assert.ok(
      !(await activeAlerts(daemon)).some((alert) => title.test(alert.Title)),
      `alert ${title} still active`,
    );
    const closed = (await daemon.call('alert.list', { State: 'Closed' })).alerts;
    assert.ok(closed.some((alert) => title.test(alert.Title) && alert.ClosedTime));
  }

  test('store folder removed: path fault alert, closed by the next success', async () => {
    await withoutStore(deployment, () => failsWithAlert(/fault in the external store path/));
    await succeedsAndCloses(/fault in the external store path/);
  });

  test('store made read-only: alert, earlier backups intact, closed after the fix', async () => {
    const before = (await backups(daemon)).length;
    mountReadOnly(deployment.store);
    try {
      await failsWithAlert(/fault in the external store path/);
    } finally {
      unmount(deployment.store);
    }
    assert.equal((await backups(daemon)).length, before);
    await succeedsAndCloses(/fault in the external store path/);
  });

  test('store full: capacity alert, no partial backup listed, closed once there is room', async () => {
    const small = tempDir('small-store');
    mountTmpfs(small, '600k');
    try {
      writeFileSync(path.join(small, 'filler'), Buffer.alloc(200 * 1024));
      await daemon.call('config.set', { Path: small });
      await failsWithAlert(/out of capacity/);
      assert.equal((await backups(daemon)).length, 0);
      rmSync(path.join(small, 'filler'));
      await daemon.call('config.set', { Path: deployment.store });
      await succeedsAndCloses(/out of capacity/);
    } finally {
      unmount(small);
      removeDir(small);
    }
  });

  test('store almost full (less room than two more backups need): warning raised, closed when space is freed', async () => {
    const small = tempDir('almost-full');
    mountTmpfs(small, '4m');
    try {
      await daemon.call('config.set', { Path: small });
      const first = await daemon.call('backup.start', { Wait: true });
      const backupBytes = first.CompressedBackupSizeInKb * 1024;
      const free = Number(
        /\d+/.exec(
          spawnSync('df', ['-B1', '--output=avail', small], { encoding: 'utf8' }).stdout.split('\n')[1]!,
        )![0],
      );
      writeFileSync(
        path.join(small, 'filler'),
        Buffer.alloc(Math.max(0, free - Math.round(1.5 * backupBytes))),
      );
      await daemon.call('backup.start', { Wait: true });
      const alert = (await activeAlerts(daemon)).find((candidate) => /almost full/.test(candidate.Title));
      assert.ok(alert, 'no almost-full alert');
      assert.match(alert.Description, /two more backups/);
      rmSync(path.join(small, 'filler'));
      await daemon.call('config.set', { Path: small });
      assert.ok(!(await activeAlerts(daemon)).some((candidate) => /almost full/.test(candidate.Title)));
    } finally {
      await daemon.call('config.set', { Path: deployment.store });
      unmount(small);
      removeDir(small);
    }
  });

  test('a certificate that expires within 30 days raises the expiry warning; a new one closes it', async () => {
    const certs = tempDir('short-cert');
    try {
      await daemon.call('certificate.new', {
        Subject: 'CN=Short',
        CerPath: path.join(certs, 'short.cer'),
        PfxPath: path.join(certs, 'short.pfx'),
        PfxPassword: 'x-password-1',
        ValidityYears: 10 / 365.25,
      });
      const result = await daemon.call('config.set', { EncryptionCertPath: path.join(certs, 'short.cer') });
      assert.match(result.warnings.join(' '), /expires/);
      assert.ok((await activeAlerts(daemon)).some((alert) => /expires soon/.test(alert.Title)));
      await daemon.call('config.set', { EncryptionCertPath: deployment.cerPath });
      assert.ok(!(await activeAlerts(daemon)).some((alert) => /expires soon/.test(alert.Title)));
    } finally {
      removeDir(certs);
    }
  });
});
