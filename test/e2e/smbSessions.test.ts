/**
 * How many SMB sessions a job opens, counted by the file server itself: smbd at log level 2 writes
 * one "connect to service" line for every tree connect, and each smbclient session makes exactly
 * one. A backup streams at most ROLE_PARALLELISM roles at once (src/engine/backupRun.ts), so it may
 * open one session per stream that truly runs in parallel, never one per role, file or call; what
 * follows it (retention, failed uploads, the store conditions: src/engine/housekeeping.ts) runs over
 * the backup's own store. (Before one session a call, smbd counted 26, 47 and 68 sessions for backups
 * of 2, 5 and 8 roles; before housekeeping shared the backup's store, 4, 5 and 5.) A configuration
 * change opens one for what follows it, besides the probe of new store settings (before, one for
 * the alerts' conditions and one for the free space shown: 2, and 4 with new store settings).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { removeDir, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { createDeployment, PFX_PASSWORD, type Deployment } from '../helpers/deployment.js';
import { SambaServer } from '../helpers/samba.js';

/** The roles a backup streams at once (ROLE_PARALLELISM in src/engine/backupRun.ts). */
const PARALLEL_STREAMS = 3;
/** Tree connects to the `backup` share that smbd has logged so far (all of its log files). */
function sessionsLogged(server: SambaServer): number {
  const logs = path.join(server.root, 'log');
  return readdirSync(logs)
    .filter((name) => name.startsWith('log.'))
    .map((name) => readFileSync(path.join(logs, name), 'utf8'))
    .join('')
    .split('\n')
    .filter((line) => /connect to service backup initially as user/.test(line)).length;
}

describe('SMB sessions per job, as the file server counts them', () => {
  let server: SambaServer;
  let daemon: TestDaemon;
  let deployment: Deployment;
  let roles = 0;

  before(async () => {
    server = await SambaServer.start({ global: { 'log level': '2' } });
    daemon = startDaemon();
    deployment = await createDeployment(daemon);
    await daemon.call('role.unregister', { Name: 'ECE' });
    roles = 2;
    mkdirSync(path.join(server.sharePath('backup'), 'east'));
    spawnSync('chmod', ['-R', 'a+rwX', server.sharePath('backup')]);
    await daemon.call('config.set', {
      Path: server.uncPath('backup', 'east'),
      UserName: server.user,
      Password: server.password,
    });
  });
  after(async () => {
    daemon.stop();
    await server.dispose();
    [daemon.stateDir, deployment.root].forEach(removeDir);
  });

  /** Registers Directory roles until there are `count`, each with a folder of a few files. */
  async function growTo(count: number): Promise<void> {
    for (; roles < count; roles += 1) {
      const folder = path.join(deployment.root, 'data', `R${roles}`);
      mkdirSync(folder, { recursive: true });
      for (let file = 0; file < 20; file += 1) writeFileSync(path.join(folder, `f${file}.txt`), `${file}\n`);
      await daemon.call('role.register', { Name: `R${roles}`, Provider: 'Directory', Path: folder });
    }
  }

  /** The sessions one backup of `count` roles opened. */
  async function sessionsOfBackup(count: number): Promise<number> {
    await growTo(count);
    const before = sessionsLogged(server);
    const backup = await daemon.call('backup.start', { Wait: true });
    assert.equal(backup.Status, 'Succeeded', JSON.stringify(backup.RoleStatus));
    assert.equal(backup.RoleStatus.length, count);
    return sessionsLogged(server) - before;
  }

  test('a backup opens at most one session per parallel stream, whatever the number of roles', async (t) => {
    const counts: Record<number, number> = {};
    for (const count of [2, 5, 8]) counts[count] = await sessionsOfBackup(count);
    t.diagnostic(`sessions per backup, by roles: ${JSON.stringify(counts)}`);
    assert.ok(counts[2]! >= 1, 'the count must see sessions at all');
    assert.ok(counts[2]! <= 2, `2 roles: ${counts[2]} sessions`);
    assert.ok(counts[5]! <= PARALLEL_STREAMS, `5 roles: ${counts[5]} sessions`);
    assert.ok(counts[8]! <= counts[5]!, `8 roles: ${counts[8]} sessions, 5 roles: ${counts[5]}`);
  });

  /** The sessions `call` opened. */
  async function sessionsOf(call: () => Promise<unknown>): Promise<number> {
    const before = sessionsLogged(server);
    await call();
    return sessionsLogged(server) - before;
  }

  test('a listing, a prune, a Test-AzsBackup and a restore each open one session (one per parallel stream at most)', async (t) => {
    let latest = '';
    const counts = {
      list: await sessionsOf(async () => {
        latest = (await daemon.call('backup.list', {})).backups[0]!.BackupId;
      }),
      prune: await sessionsOf(() => daemon.call('store.prune', { DryRun: true })),
      test: await sessionsOf(() => daemon.call('backup.test', { Name: latest })),
      restore: await sessionsOf(() =>
        daemon.call('backup.restore', {
          Name: latest,
          DecryptionCertPath: deployment.pfxPath,
          DecryptionCertPassword: PFX_PASSWORD,
          Wait: true,
        }),
      ),
    };
    t.diagnostic(`sessions per job: ${JSON.stringify(counts)}`);
    assert.equal(counts.list, 1, 'backup.list');
    assert.equal(counts.prune, 1, 'store.prune');
    assert.ok(counts.test >= 1 && counts.test <= PARALLEL_STREAMS, `backup.test: ${counts.test}`);
    assert.ok(counts.restore >= 1 && counts.restore <= PARALLEL_STREAMS, `backup.restore: ${counts.restore}`);
  });

  test('Set-AzsBackupConfiguration opens one session for what follows a change, besides the probe of new store settings', async (t) => {
    const counts = {
      get: await sessionsOf(() => daemon.call('config.get', {})),
      schedule: await sessionsOf(() => daemon.call('config.set', { BackupFrequencyInHours: 12 })),
      store: await sessionsOf(() => daemon.call('config.set', { Password: server.password })),
      // What Set-AzsBackupConfiguration probes new store settings with (Test-AzsBackupShareAccessibility's checks).
      probe: await sessionsOf(() => daemon.call('store.test', {})),
    };
    t.diagnostic(`sessions per call: ${JSON.stringify(counts)}`);
    assert.ok(counts.probe >= 1, 'the count must see the probe');
    assert.deepEqual(counts, { get: 1, schedule: 1, store: counts.probe + 1, probe: counts.probe });
  });
});
