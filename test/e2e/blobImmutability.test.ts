/**
 * A deployment backing up to a blob container under a time-based retention (immutability) policy,
 * answered as Azure answers it by a proxy in front of a real Azurite (Azurite has no such policies):
 * the configuration's probe passes though its probe file cannot be deleted; backups are written,
 * listed and verified without any blob rewritten; retention's refused deletes leave the backups, do
 * not fail the backup, and raise the RetentionBlocked alert with what to do; once the policy lets the
 * old backups go, the next backup's retention deletes them and the alert closes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HOUR_MS } from '../../src/util/clock.js';
import { AzuriteServer } from '../helpers/azurite.js';
import { BlobWriteLog } from '../helpers/blobWriteLog.js';
import type { TestDaemon } from '../helpers/daemon.js';
import { deploymentForSuite, PFX_PASSWORD, type Deployment } from '../helpers/deployment.js';

const CONTAINER = 'worm';

describe('a blob container under an immutability policy', () => {
  const suite = deploymentForSuite({ testHooks: true });
  let daemon: TestDaemon;
  let deployment: Deployment;
  let server: AzuriteServer;
  let proxy: BlobWriteLog;

  before(async () => {
    ({ daemon, deployment } = suite());
    server = await AzuriteServer.start();
    await server.createContainer(CONTAINER);
    proxy = await BlobWriteLog.start(server.accountUrl);
    proxy.retentionPolicyMs = HOUR_MS;
  });
  after(async () => {
    await proxy.close();
    await server.stop();
  });

  const backup = async (daysLater: number) => {
    if (daysLater) await daemon.call('test.advanceClock', { Hours: 24 * daysLater });
    const done = await daemon.call('backup.start', { Wait: true });
    assert.equal(done.Status, 'Succeeded', JSON.stringify(done.RoleStatus));
    return done.BackupId;
  };
  const listed = async () => (await daemon.call('backup.list', {})).backups.map((entry) => entry.BackupId);
  const retentionAlert = async () =>
    (await daemon.call('alert.list', {})).alerts.find((alert) =>
      alert.Title.startsWith('Retention could not'),
    );

  test('the configuration is accepted: the probe file that cannot be deleted is reported, not failed', async () => {
    await daemon.call('config.set', {
      Path: proxy.containerUrl(CONTAINER),
      UserName: AzuriteServer.account,
      Password: server.accountKey,
      IsBackupSchedulerEnabled: false,
      BackupRetentionPeriodInDays: 2,
    });
    const { tests } = await daemon.call('store.test', {});
    assert.ok(
      tests.every((check) => check.Passed),
      JSON.stringify(tests),
    );
    const deleted = tests.find((check) => check.Check === 'Delete');
    assert.match(deleted?.Detail ?? '', /immutability policy keeps the 65536-byte probe file/);
  });

  test('refused retention deletes keep the backups and raise RetentionBlocked; once the policy lets them go they are deleted and the alert closes', async () => {
    const first = await backup(0);
    const second = await backup(3);
    assert.deepEqual(await listed(), [second, first], 'the first is past retention but the policy keeps it');
    const blocked = await retentionAlert();
    assert.equal(blocked?.State, 'Active');
    assert.match(blocked!.Description, /immutability policy .*keeps/);
    assert.match(blocked!.Description, /shorter than -BackupRetentionPeriodInDays/);
    assert.match(blocked!.Remediation, /immutability policy whose period is shorter/);
    assert.deepEqual(proxy.rewritten(), {}, 'no blob name is written twice');

    proxy.retentionPolicyMs = null; // the policy's period has passed
    const third = await backup(1);
    assert.deepEqual(await listed(), [third, second]);
    assert.equal((await retentionAlert())?.State, 'Closed');
    const { results } = await daemon.call('backup.test', {
      Name: third,
      DecryptionCertPath: deployment.pfxPath,
      DecryptionCertPassword: PFX_PASSWORD,
    });
    assert.ok(
      results.every((result) => result.Status === 'Succeeded'),
      JSON.stringify(results),
    );
  });
});
