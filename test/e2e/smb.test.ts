/**
 * Backups to a real Samba server: full round trips under Samba's defaults and under its strictest
 * settings, and every store fault as a backup meets it — each with its alert, no partial backup
 * listed, earlier backups intact, and the next backup after the fix succeeding.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RpcError } from '../../src/daemon/client.js';
import { removeDir, startDaemon, tempDir, type TestDaemon } from '../helpers/daemon.js';
import { createDeployment, PFX_PASSWORD, type Deployment } from '../helpers/deployment.js';
import { describeTree, withoutTimes } from '../helpers/roleEntries.js';
import { cliMain } from '../helpers/pwsh.js';
import { SambaServer } from '../helpers/samba.js';
import { waitUntil } from '../helpers/waitUntil.js';

async function configureShare(
  daemon: TestDaemon,
  server: SambaServer,
  share = 'backup',
  password = server.password,
) {
  mkdirSync(path.join(server.sharePath(share), 'east'), { recursive: true });
  spawnSync('chmod', ['-R', 'a+rwX', server.sharePath(share)]);
  return daemon.call('config.set', {
    Path: server.uncPath(share, 'east'),
    UserName: `CONTOSO\\${server.user}`,
    Password: password,
  });
}

function extractFromShare(server: SambaServer, deployment: Deployment, backupId: string): string {
  const root = path.join(server.sharePath('backup'), 'east', 'MASBackup');
  const stamp = readdirSync(root).find((name) => readdirSync(path.join(root, name)).includes(backupId))!;
  const out = tempDir('smb-extract');
  const result = spawnSync(
    process.execPath,
    [
      cliMain,
      'extract',
      '--backup',
      path.join(root, stamp, backupId),
      '--pfx',
      deployment.pfxPath,
      '--out',
      out,
    ],
    {
      env: { ...process.env, AZSBACKUP_PFX_PASSWORD: PFX_PASSWORD },
      encoding: 'utf8',
    },
  );
  assert.equal(result.status, 0, result.stderr);
  return out;
}

/** True once an upload is under way: smbclient writes under a `.partial-` name until it is complete. */
function findPartial(folder: string): boolean {
  return readdirSync(folder, { recursive: true, encoding: 'utf8' }).some((name) =>
    name.includes('.partial-'),
  );
}

/** The backup folders (<stamp>/<id>) under a store's MASBackup that hold no manifest. */
function foldersWithoutManifest(root: string): string[] {
  return readdirSync(root).flatMap((stamp) =>
    readdirSync(path.join(root, stamp))
      .map((id) => path.join(root, stamp, id))
      .filter((folder) => !readdirSync(folder).includes('BackupInfo.json')),
  );
}

/** Every process command line on the machine, to prove the share password is on none of them. */
function commandLines(): string[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        return '';
      }
    });
}

const variants: Array<{ name: string; global?: Record<string, string> }> = [
  { name: "Samba's defaults" },
  {
    name: 'signing mandatory, encryption required, SMB 3.1.1 minimum',
    global: {
      'server signing': 'mandatory',
      'server smb encrypt': 'required',
      'server min protocol': 'SMB3_11',
    },
  },
];

for (const variant of variants) {
  describe(`backup round trip through SMB (${variant.name})`, () => {
    test('backup, list and azsbackup extract give the data back exactly; no password on any command line', async () => {
      const server = await SambaServer.start({ global: variant.global });
      const daemon = startDaemon();
      const deployment = await createDeployment(daemon);
      const cleanup = [daemon.stateDir, deployment.root];
      try {
        await configureShare(daemon, server);
        const tests = (await daemon.call('store.test', {})).tests;
        assert.ok(
          tests.every((check) => check.Passed),
          JSON.stringify(tests),
        );
        assert.match(tests.find((check) => check.Check === 'Protocol')!.Detail, /SMB3/);
        if (variant.global)
          assert.match(tests.find((check) => check.Check === 'Protocol')!.Detail, /, encrypted/);

        const running = daemon.call('backup.start', { Wait: true });
        const seen: string[] = [];
        const watcher = setInterval(() => seen.push(...commandLines()), 50);
        const backup = await running.finally(() => clearInterval(watcher));
        assert.equal(backup.Status, 'Succeeded', JSON.stringify(backup.RoleStatus));
        assert.ok(
          seen.some((line) => line.includes('smbclient')),
          'smbclient ran during the backup',
        );
        assert.ok(
          !seen.some((line) => line.includes(server.password)),
          'the share password is on a command line',
        );

        assert.deepEqual(
          (await daemon.call('backup.list', {})).backups.map((item) => item.BackupId),
          [backup.BackupId],
        );
        const out = extractFromShare(server, deployment, backup.BackupId);
        cleanup.push(out);
        assert.deepEqual(
          withoutTimes(await describeTree(path.join(out, 'CA'))),
          withoutTimes(await describeTree(deployment.folder)),
        );
        assert.deepEqual(
          withoutTimes(await describeTree(path.join(out, 'ECE'))),
          withoutTimes(await describeTree(deployment.scripted)),
        );
        const logs = readdirSync(path.join(daemon.stateDir, 'logs'))
          .map((name) => readFileSync(path.join(daemon.stateDir, 'logs', name), 'utf8'))
          .join('');
        assert.ok(!logs.includes(server.password), 'the share password is in the daemon log');
      } finally {
        daemon.stop();
        await server.dispose();
        cleanup.forEach(removeDir);
      }
    });
  });
}

describe('store faults met by a backup to SMB', () => {
  let server: SambaServer;
  let daemon: TestDaemon;
  let deployment: Deployment;
  let first: string;

  before(async () => {
    server = await SambaServer.start({
      shares: [{ name: 'backup' }, { name: 'small', sizeMiB: 1 }, { name: 'readonly', readOnly: true }],
    });
    daemon = startDaemon();
    deployment = await createDeployment(daemon);
    await daemon.call('role.unregister', { Name: 'ECE' });
    await configureShare(daemon, server);
    first = (await daemon.call('backup.start', { Wait: true })).BackupId;
  });
  after(async () => {
    daemon.stop();
    await server.dispose();
    [daemon.stateDir, deployment.root].forEach(removeDir);
  });

  const rejectsWith = (reason: string) => (error: unknown) => {
    assert.ok(error instanceof RpcError, String(error));
    assert.equal(error.data?.reason, reason, error.message);
    assert.match(error.message, /NT_STATUS|refused|unreachable|timed out|connect/i);
    return true;
  };

  async function intactAndRecovers(alertTitle: RegExp): Promise<void> {
    const listed = (await daemon.call('backup.list', {})).backups.map((backup) => backup.BackupId);
    assert.ok(listed.includes(first), 'the earlier backup is still listed');
    assert.ok(listed.every((id) => id === first || listed.indexOf(id) >= 0));
    assert.ok(
      (await daemon.call('alert.list', { State: 'Active' })).alerts.some((alert) =>
        alertTitle.test(alert.Title),
      ),
      `no alert ${alertTitle}`,
    );
    const next = await daemon.call('backup.start', { Wait: true });
    assert.equal(next.Status, 'Succeeded');
    assert.ok(
      !(await daemon.call('alert.list', { State: 'Active' })).alerts.some((alert) =>
        alertTitle.test(alert.Title),
      ),
    );
  }

  test('wrong password, unknown share, unknown folder, read-only share: refused at configuration, nothing saved', async () => {
    const saved = (await daemon.call('config.get', {})).location;
    const attempt = (params: Record<string, string>) =>
      daemon.call('config.set', { Path: server.uncPath('backup', 'east'), ...params });
    await assert.rejects(attempt({ Password: 'not-the-password' }), rejectsWith('AuthenticationFailed'));
    await assert.rejects(
      attempt({ Path: server.uncPath('nosuchshare', 'east') }),
      rejectsWith('PathNotFound'),
    );
    await assert.rejects(
      attempt({ Path: server.uncPath('backup', 'no-such-folder') }),
      rejectsWith('PathNotFound'),
    );
    await assert.rejects(attempt({ Path: server.uncPath('readonly') }), rejectsWith('StoreAccessDenied'));
    assert.deepEqual(
      { ...(await daemon.call('config.get', {})).location, AvailableCapacity: null },
      { ...saved, AvailableCapacity: null },
    );
  });

  test('password changed on the server: authentication alert; fixed with the new password', async () => {
    const changed = `${server.password}-new`;
    const result = spawnSync('smbpasswd', ['-s', '-c', server.conf, server.user], {
      input: `${changed}\n${changed}\n`,
    });
    assert.equal(result.status, 0, String(result.stderr));
    await assert.rejects(daemon.call('backup.start', { Wait: true }), rejectsWith('AuthenticationFailed'));
    await daemon.call('config.set', { Password: changed });
    await intactAndRecovers(/authentication problem/);
  });

  test('server stopped: connectivity alert; the next backup after it is back succeeds', async () => {
    await server.stop();
    await assert.rejects(daemon.call('backup.start', { Wait: true }), rejectsWith('ShareUnreachable'));
    await server.launch();
    await intactAndRecovers(/connectivity problem/);
  });

  test('server killed mid-upload: no partial backup listed; the next backup removes what it left', async () => {
    writeFileSync(path.join(deployment.folder, 'large.bin'), randomBytes(300 * 1024 * 1024));
    const running = daemon.call('backup.start', { Wait: true });
    running.catch(() => undefined);
    await waitUntil(
      () => findPartial(path.join(server.sharePath('backup'), 'east')),
      'an upload to Samba to start',
      30_000,
      10,
    );
    await server.stop('SIGKILL');
    await assert.rejects(running, rejectsWith('ShareUnreachable'));
    await server.launch();
    const listed = (await daemon.call('backup.list', {})).backups;
    assert.ok(
      listed.every((backup) => backup.Status === 'Succeeded'),
      'only complete backups are listed',
    );
    const storeRoot = path.join(server.sharePath('backup'), 'east', 'MASBackup');
    assert.equal(foldersWithoutManifest(storeRoot).length, 1, 'the killed upload left its folder');
    removeDir(path.join(deployment.folder, 'large.bin'));
    await intactAndRecovers(/connectivity problem/);
    assert.deepEqual(foldersWithoutManifest(storeRoot), [], 'the next backup removed the killed upload');
    assert.deepEqual((await daemon.call('store.prune', { DryRun: true })).PathsToDelete, []);
  });

  test('share full: capacity alert, then the backup succeeds on a share with room', async () => {
    mkdirSync(path.join(server.sharePath('small'), 'east'), { recursive: true });
    writeFileSync(path.join(server.sharePath('small'), 'filler'), Buffer.alloc(700 * 1024));
    spawnSync('chmod', ['-R', 'a+rwX', server.sharePath('small')]);
    await daemon.call('config.set', { Path: server.uncPath('small', 'east') });
    await assert.rejects(daemon.call('backup.start', { Wait: true }), rejectsWith('StoreFull'));
    assert.deepEqual((await daemon.call('backup.list', {})).backups, []);
    await daemon.call('config.set', { Path: server.uncPath('backup', 'east') });
    await intactAndRecovers(/out of capacity/);
  });
});
