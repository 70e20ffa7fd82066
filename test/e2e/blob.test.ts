/**
 * A deployment backing up to a blob container on a real Azurite: backup, listing, Test-AzsBackup
 * and restore with the account key and with a SAS; retention and prune; cloud recovery by a fresh
 * deployment; the store faults a backup meets (Azurite stopped mid-backup, the key rotated, an
 * expired SAS, the container deleted), each with its alert, no partial backup listed, the earlier
 * backups intact and the next backup after the fix succeeding; and that no step writes one blob
 * name twice (docs/storage.md, "Immutability").
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { AzuriteServer } from '../helpers/azurite.js';
import { BlobWriteLog } from '../helpers/blobWriteLog.js';
import { rejectsWith, removeDir, startDaemon, tempDir, type TestDaemon } from '../helpers/daemon.js';
import { deploymentForSuite, PFX_PASSWORD, type Deployment } from '../helpers/deployment.js';
import { describeTree, withoutTimes } from '../helpers/roleEntries.js';
import { waitUntil } from '../helpers/waitUntil.js';

const CONTAINER = 'backups';
const DAY_HOURS = 24;

interface RoleData {
  folder: ReturnType<typeof withoutTimes>;
  rows: number;
}

/** What the roles hold: the Directory role's tree, and the SQLite database's rows once it passes integrity_check. */
async function roleData(deployment: Deployment): Promise<RoleData> {
  const db = new Database(deployment.database, { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    const { rows } = db.prepare('SELECT count(*) AS rows FROM subscriptions').get() as { rows: number };
    return { folder: withoutTimes(await describeTree(deployment.folder)), rows };
  } finally {
    db.close();
  }
}

function removeRoleData(deployment: Deployment): void {
  for (const data of [deployment.folder, deployment.database]) rmSync(data, { recursive: true, force: true });
}

async function listedIds(daemon: TestDaemon): Promise<string[]> {
  return (await daemon.call('backup.list', {})).backups.map((backup) => backup.BackupId);
}

/** The backup folders (MASBackup/<stamp>/<id>) in the container that hold no manifest. */
async function foldersWithoutManifest(server: AzuriteServer): Promise<string[]> {
  const names = await server.blobNames(CONTAINER, { prefix: 'MASBackup/' });
  const folders = new Set(names.map((name) => name.split('/').slice(0, 3).join('/')));
  return [...folders].filter((folder) => !names.includes(`${folder}/BackupInfo.json`));
}

describe('a deployment backing up to a blob container on Azurite', () => {
  const suite = deploymentForSuite({ testHooks: true });
  let daemon: TestDaemon;
  let deployment: Deployment;
  let azuriteFolder: string;
  let server: AzuriteServer;
  /** The key the account accepts now (rotated by a fault test). */
  const keyOf = () => ({ UserName: AzuriteServer.account, Password: server.accountKey });

  before(async () => {
    ({ daemon, deployment } = suite());
    azuriteFolder = tempDir('azurite');
    server = await AzuriteServer.start({ folder: azuriteFolder });
    await server.createContainer(CONTAINER);
    await daemon.call('config.set', {
      Path: server.containerUrl(CONTAINER),
      ...keyOf(),
      IsBackupSchedulerEnabled: false,
    });
  });
  after(async () => {
    await server.stop();
    removeDir(azuriteFolder);
  });

  async function restoreEvery(backupId: string, expected: RoleData): Promise<void> {
    removeRoleData(deployment);
    const restored = await daemon.call('backup.restore', {
      Name: backupId,
      DecryptionCertPath: deployment.pfxPath,
      DecryptionCertPassword: PFX_PASSWORD,
      Wait: true,
    });
    assert.deepEqual(restored.RestoredRoles.sort(), ['CA', 'WAS']);
    assert.deepEqual(await roleData(deployment), expected);
  }

  async function verified(backupId: string): Promise<void> {
    const { results } = await daemon.call('backup.test', {
      Name: backupId,
      DecryptionCertPath: deployment.pfxPath,
      DecryptionCertPassword: PFX_PASSWORD,
    });
    assert.deepEqual(results.map((result) => [result.RoleName, result.Status]).sort(), [
      ['CA', 'Succeeded'],
      ['WAS', 'Succeeded'],
    ]);
  }

  test('with the account key: Test-AzsBackupShareAccessibility passes, the backup is listed, verifies with the .pfx, and restores every role exactly', async () => {
    const tests = (await daemon.call('store.test', {})).tests;
    assert.ok(
      tests.every((check) => check.Passed),
      JSON.stringify(tests),
    );
    const data = await roleData(deployment);
    const backup = await daemon.call('backup.start', { Wait: true });
    assert.equal(backup.Status, 'Succeeded', JSON.stringify(backup.RoleStatus));
    const [listed, ...others] = (await daemon.call('backup.list', {})).backups;
    assert.deepEqual(others, []);
    assert.equal(listed!.BackupId, backup.BackupId);
    assert.equal(listed!.Name, `${listed!.Location}/${backup.BackupId}`);
    assert.equal(listed!.IsCloudRecoveryReady, true);
    const stored = await server.blobNames(CONTAINER, { prefix: 'MASBackup/' });
    for (const file of ['BackupInfo.json', 'CA/CA.azsb', 'WAS/WAS.azsb'])
      assert.ok(
        stored.some((name) => name.endsWith(`/${backup.BackupId}/${file}`)),
        `${file} in ${stored}`,
      );
    await verified(backup.BackupId);
    await restoreEvery(backup.BackupId, data);
  });

  test('retention deletes the old backups from the container and keeps the newest recovery-ready one; prune removes a planted orphan; no blob name is written twice', async () => {
    const proxy = await BlobWriteLog.start(server.accountUrl);
    try {
      await daemon.call('config.set', {
        Path: proxy.containerUrl(CONTAINER),
        BackupRetentionPeriodInDays: 2,
      });
      const [first] = await listedIds(daemon);
      const data = await roleData(deployment);
      const take = async (hoursLater: number) => {
        await daemon.call('test.advanceClock', { Hours: hoursLater });
        return daemon.call('backup.start', { Wait: true });
      };
      const ready = await take(3 * DAY_HOURS);
      assert.deepEqual(await listedIds(daemon), [ready.BackupId], 'the first backup is past retention');
      // A backup that misses a role is not ready for cloud recovery: the older ready one stays.
      renameSync(deployment.database, `${deployment.database}.aside`);
      const partial = await take(3 * DAY_HOURS);
      renameSync(`${deployment.database}.aside`, deployment.database);
      assert.equal(partial.Status, 'PartialSucceeded');
      assert.deepEqual(await listedIds(daemon), [partial.BackupId, ready.BackupId]);
      const newest = await take(DAY_HOURS);
      assert.deepEqual(await listedIds(daemon), [newest.BackupId, partial.BackupId]);
      const left = await server.blobNames(CONTAINER);
      for (const gone of [first!, ready.BackupId])
        assert.ok(!left.some((name) => name.includes(gone)), `blobs of ${gone} are left: ${left}`);

      // Planted straight into the container: a folder without a manifest, a file no manifest lists,
      // and an upload cut short (staged blocks only, which no listing shows and the service drops).
      const orphanStamp = 'MASBackup/20200101T000000Z';
      await server.overwrite(CONTAINER, `${orphanStamp}/${randomUUID()}/CA/CA.azsb`, randomBytes(1000));
      const newestFolder = left.find((name) => name.endsWith(`${newest.BackupId}/BackupInfo.json`))!;
      const stray = newestFolder.replace('BackupInfo.json', 'CA/CA.azsb.stray');
      await server.overwrite(CONTAINER, stray, Buffer.from('not part of the backup'));
      const cutShort = `MASBackup/20200102T000000Z/${randomUUID()}/WAS/WAS.azsb`;
      await server.stageOnly(CONTAINER, cutShort, randomBytes(1000));
      const planted = await server.blobNames(CONTAINER);
      assert.ok(!planted.includes(cutShort), 'an upload cut short is not a blob yet');

      const dry = await daemon.call('store.prune', { DryRun: true });
      assert.deepEqual(
        dry.PathsToDelete.sort(),
        [
          `${proxy.containerUrl(CONTAINER)}/${orphanStamp}`,
          `${proxy.containerUrl(CONTAINER)}/${stray}`,
        ].sort(),
      );
      assert.deepEqual(await server.blobNames(CONTAINER), planted, 'a dry run removes nothing');
      await daemon.call('store.prune', { DryRun: false });
      assert.deepEqual(
        await server.blobNames(CONTAINER),
        planted.filter((name) => !name.startsWith(orphanStamp) && name !== stray),
      );
      assert.deepEqual((await daemon.call('store.prune', { DryRun: true })).PathsToDelete, []);
      assert.deepEqual(await listedIds(daemon), [newest.BackupId, partial.BackupId]);
      assert.ok(
        (await server.blobNames(CONTAINER, { uncommitted: true })).includes(cutShort),
        'the staged blocks are left to the service, which drops them after a week',
      );

      await verified(newest.BackupId);
      await restoreEvery(newest.BackupId, data);
      const restored = await daemon.call('backup.restore', {
        Name: partial.BackupId,
        DecryptionCertPath: deployment.pfxPath,
        DecryptionCertPassword: PFX_PASSWORD,
        Wait: true,
      });
      assert.deepEqual(restored.RestoredRoles, ['CA']);
      assert.deepEqual((await roleData(deployment)).folder, data.folder);

      const written = proxy.changes.map((change) => change.operation);
      assert.ok(written.includes('Put Block List') && written.includes('Delete Blob'), String(written));
      assert.deepEqual(proxy.rewritten(), {}, 'blob names written more than once');
    } finally {
      await daemon.call('config.set', { Path: server.containerUrl(CONTAINER) });
      await proxy.close();
    }
  });

  test('a fresh deployment pointed at the same container finds the backups and restores them with the .pfx', async () => {
    const data = await roleData(deployment);
    const [newest, ...older] = (await daemon.call('backup.list', {})).backups;
    const fresh = startDaemon();
    try {
      await fresh.call('config.set', { Path: server.containerUrl(CONTAINER), ...keyOf() });
      const found = (await fresh.call('backup.list', {})).backups;
      assert.deepEqual(
        found.map((backup) => [backup.BackupId, backup.IsKnownToDeployment]),
        [newest!, ...older].map((backup) => [backup.BackupId, false]),
      );
      removeRoleData(deployment);
      const restored = await fresh.call('backup.restore', {
        Name: newest!.BackupId,
        DecryptionCertPath: deployment.pfxPath,
        DecryptionCertPassword: PFX_PASSWORD,
        AcceptBackupRoles: true,
        Wait: true,
      });
      assert.deepEqual(restored.RestoredRoles.sort(), ['CA', 'WAS']);
      assert.deepEqual(await roleData(deployment), data);
    } finally {
      fresh.stop();
      removeDir(fresh.stateDir);
    }
  });

  test('with a container SAS instead of the key, a backup works', async () => {
    const sas = server.sas(CONTAINER, new Date(Date.now() + 3_600_000));
    await daemon.call('config.set', { UserName: '', Password: sas });
    const backup = await daemon.call('backup.start', { Wait: true });
    assert.equal(backup.Status, 'Succeeded');
    assert.equal((await listedIds(daemon))[0], backup.BackupId);
    await verified(backup.BackupId);
  });

  describe('store faults', () => {
    async function activeAlert(title: RegExp) {
      return (await daemon.call('alert.list', { State: 'Active' })).alerts.find((alert) =>
        title.test(alert.Title),
      );
    }

    /**
     * The failed backup's alert says what to do; only complete backups are listed, the earlier ones
     * among them; the next backup succeeds and closes the alert.
     */
    async function intactAndRecovers(
      earlier: string[],
      alertTitle: RegExp,
      remediation: RegExp,
    ): Promise<void> {
      const alert = await activeAlert(alertTitle);
      assert.ok(alert, `no alert ${alertTitle}`);
      assert.match(alert.Remediation, remediation);
      const listed = (await daemon.call('backup.list', {})).backups;
      assert.ok(
        listed.every((backup) => backup.Status !== 'Failed' && backup.CompletelyUploaded),
        'only complete backups are listed',
      );
      assert.deepEqual(
        listed.map((backup) => backup.BackupId),
        earlier,
        'the earlier backups are intact',
      );
      const next = await daemon.call('backup.start', { Wait: true });
      assert.equal(next.Status, 'Succeeded');
      assert.equal(await activeAlert(alertTitle), undefined, 'the alert closed');
    }

    test('Azurite stopped mid-backup: connectivity alert; after the restart the next backup succeeds and removes what the failed one left', async () => {
      const earlier = await listedIds(daemon);
      const large = path.join(deployment.folder, 'large.bin');
      writeFileSync(large, randomBytes(128 * 1024 * 1024));
      try {
        const before = new Set(await server.blobNames(CONTAINER));
        const running = daemon.call('backup.start', { Wait: true });
        running.catch(() => undefined);
        // Staged blocks of a new role file: the upload is under way.
        await waitUntil(
          async () =>
            (await server.blobNames(CONTAINER, { uncommitted: true })).some(
              (name) => name.endsWith('/CA/CA.azsb') && !before.has(name),
            ),
          'the upload of the large role file to start',
          30_000,
          10,
        );
        await server.stop();
        await assert.rejects(running, rejectsWith('ShareUnreachable'));
        server = await server.restart();
        assert.equal((await foldersWithoutManifest(server)).length, 1, 'the failed backup left its folder');
        await verified(earlier[0]!);
      } finally {
        rmSync(large, { force: true });
      }
      await intactAndRecovers(earlier, /connectivity problem/, /blob endpoint in -Path/);
      assert.deepEqual(await foldersWithoutManifest(server), [], 'the next backup removed the failed upload');
      assert.deepEqual((await daemon.call('store.prune', { DryRun: true })).PathsToDelete, []);
    });

    test('a wrong key is refused at configuration; the account key rotated: authentication alert, fixed with the new key', async () => {
      const saved = (await daemon.call('config.get', {})).location;
      const wrongKey = randomBytes(64).toString('base64');
      await assert.rejects(
        daemon.call('config.set', { Path: server.containerUrl(CONTAINER), ...keyOf(), Password: wrongKey }),
        rejectsWith('AuthenticationFailed'),
      );
      assert.deepEqual((await daemon.call('config.get', {})).location, saved, 'nothing saved');
      await daemon.call('config.set', keyOf());
      const earlier = await listedIds(daemon);
      await server.stop();
      server = await server.restart(randomBytes(64).toString('base64'));
      await assert.rejects(
        daemon.call('backup.start', { Wait: true }),
        rejectsWith('AuthenticationFailed', new RegExp(AzuriteServer.account)),
      );
      await daemon.call('config.set', keyOf());
      await intactAndRecovers(earlier, /authentication problem/, /account's current key/);
    });

    test('an expired SAS: authentication alert naming the expiry; fixed with a new SAS', async () => {
      const expiry = new Date(Date.now() + 4_000);
      await daemon.call('config.set', { UserName: '', Password: server.sas(CONTAINER, expiry) });
      const earlier = await listedIds(daemon);
      await new Promise((resolve) => setTimeout(resolve, expiry.getTime() - Date.now() + 1_000));
      const named = new RegExp(`${expiry.toISOString().slice(0, 19)}.*expired`);
      await assert.rejects(
        daemon.call('backup.start', { Wait: true }),
        rejectsWith('AuthenticationFailed', named),
      );
      assert.match((await activeAlert(/authentication problem/))?.Description ?? '', named);
      await daemon.call('config.set', { Password: server.sas(CONTAINER, new Date(Date.now() + 3_600_000)) });
      await intactAndRecovers(earlier, /authentication problem/, /SAS token/);
    });

    test('the container deleted after configuration: path alert; a backup succeeds once it is created again', async () => {
      const earlier = await listedIds(daemon);
      await server.createContainer('doomed');
      await daemon.call('config.set', { Path: server.containerUrl('doomed'), ...keyOf() });
      await server.deleteContainer('doomed');
      await assert.rejects(
        daemon.call('backup.start', { Wait: true }),
        rejectsWith('PathNotFound', /no container named 'doomed'/),
      );
      await assert.rejects(
        daemon.call('backup.list', {}),
        rejectsWith('PathNotFound', /Create the container(?!.*share and folder)/),
      );
      await server.createContainer('doomed');
      await intactAndRecovers([], /fault in the external store path/, /create the container/);
      await daemon.call('config.set', { Path: server.containerUrl(CONTAINER) });
      assert.deepEqual(await listedIds(daemon), earlier, 'the backups in the other container are intact');
    });
  });

  test('neither the key nor a SAS signature is in the daemon log', async () => {
    const logs = readdirSync(path.join(daemon.stateDir, 'logs'))
      .map((name) => readFileSync(path.join(daemon.stateDir, 'logs', name), 'utf8'))
      .join('');
    for (const secret of [AzuriteServer.key, server.accountKey])
      assert.ok(!logs.includes(secret), 'an account key is in the daemon log');
    assert.ok(!/sig=/.test(logs), 'a SAS signature is in the daemon log');
  });
});
