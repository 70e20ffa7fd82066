/**
 * Cloud recovery on real daemons: a fresh deployment finds another's backups on the store and
 * restores them with the .pfx; verification refuses corrupted data before touching any role.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { Job } from '../../src/protocol/objects.js';
import { rejectsWith, removeDir, startDaemon, tempDir, type TestDaemon } from '../helpers/daemon.js';
import { createDeployment, flipByte, PFX_PASSWORD, roleFile } from '../helpers/deployment.js';
import { describeTree, withoutTimes } from '../helpers/roleEntries.js';
import { waitUntil } from '../helpers/waitUntil.js';

/** The ECE role's file as createDeployment writes it (its RestoreScript copies over, removing nothing). */
const ECE_SETTINGS = '<Settings><Node Name="n1"/></Settings>\n';

/** The newest restore job once `ready` holds for it (within a minute). */
async function restoreJob(daemon: TestDaemon, ready: (job: Job) => boolean): Promise<Job> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const [job] = (await daemon.call('job.list', { Kind: ['Restore'], Top: 1 })).jobs;
    if (job && ready(job)) return job;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the restore job did not reach the expected state within a minute');
}

describe('cloud recovery', () => {
  test('the drill: deployment A is destroyed, deployment B finds its backup and restores every role exactly', async () => {
    const a = startDaemon();
    const deployment = await createDeployment(a);
    const before = {
      folder: withoutTimes(await describeTree(deployment.folder)),
      scripted: withoutTimes(await describeTree(deployment.scripted)),
    };
    const rows = (
      new Database(deployment.database, { readonly: true })
        .prepare('SELECT count(*) AS n FROM subscriptions')
        .get() as { n: number }
    ).n;
    const backup = await a.call('backup.start', { Wait: true });
    assert.equal(backup.Status, 'Succeeded');
    const { deploymentId } = await a
      .call('daemon.status', {})
      .then((status) => ({ deploymentId: status.deploymentId }));
    a.stop();
    removeDir(a.stateDir);
    for (const data of [deployment.folder, deployment.scripted, deployment.database])
      rmSync(data, { recursive: true, force: true });

    const b = startDaemon();
    try {
      await b.call('config.set', { Path: deployment.store });
      const found = (await b.call('backup.list', {})).backups;
      assert.equal(found.length, 1);
      assert.equal(found[0]!.DeploymentId, deploymentId);
      assert.equal(found[0]!.IsKnownToDeployment, false, 'B did not write it');
      assert.notEqual((await b.call('daemon.status', {})).deploymentId, deploymentId);
      const restore = {
        Name: backup.BackupId,
        DecryptionCertPath: deployment.pfxPath,
        DecryptionCertPassword: PFX_PASSWORD,
        Wait: true,
      };
      await assert.rejects(
        b.call('backup.restore', restore),
        rejectsWith('RolesNotAccepted', /-AcceptBackupRoles/),
      );
      assert.deepEqual((await b.call('role.list', {})).roles, [], 'nothing registered without acceptance');
      const result = await b.call('backup.restore', { ...restore, AcceptBackupRoles: true });
      assert.deepEqual(result.RestoredRoles.sort(), ['CA', 'ECE', 'WAS']);
      assert.deepEqual(withoutTimes(await describeTree(deployment.folder)), before.folder);
      assert.deepEqual(withoutTimes(await describeTree(deployment.scripted)), before.scripted);
      const db = new Database(deployment.database, { readonly: true });
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      assert.equal((db.prepare('SELECT count(*) AS n FROM subscriptions').get() as { n: number }).n, rows);
      db.close();
      assert.deepEqual((await b.call('role.list', {})).roles.map((role) => role.Name).sort(), [
        'CA',
        'ECE',
        'WAS',
      ]);
    } finally {
      b.stop();
      [b.stateDir, deployment.root].forEach(removeDir);
    }
  });

  test('-RoleName restores one role and leaves the others untouched', async () => {
    const daemon = startDaemon();
    const deployment = await createDeployment(daemon);
    try {
      const backup = await daemon.call('backup.start', { Wait: true });
      const original = withoutTimes(await describeTree(deployment.folder));
      rmSync(path.join(deployment.folder, 'nested'), { recursive: true });
      writeFileSync(path.join(deployment.scripted, 'changed-after-backup.txt'), 'new');
      const scriptedNow = withoutTimes(await describeTree(deployment.scripted));
      await daemon.call('role.unregister', { Name: 'WAS' });
      await daemon.call('backup.restore', {
        Name: backup.BackupId,
        DecryptionCertPath: deployment.pfxPath,
        DecryptionCertPassword: PFX_PASSWORD,
        RoleName: 'CA',
        Wait: true,
      });
      assert.deepEqual(withoutTimes(await describeTree(deployment.folder)), original);
      assert.deepEqual(withoutTimes(await describeTree(deployment.scripted)), scriptedNow);
      assert.deepEqual(
        (await daemon.call('role.list', {})).roles.map((role) => role.Name).sort(),
        ['CA', 'ECE'],
        'only the role restored is registered from the backup, and only when missing',
      );
    } finally {
      daemon.stop();
      [daemon.stateDir, deployment.root].forEach(removeDir);
    }
  });

  test('previous data that cannot be removed after the swap: the role is restored, the leftover named', async () => {
    const daemon = startDaemon();
    const deployment = await createDeployment(daemon);
    // An immutable file: not even root can delete it, so the previous tree cannot be removed.
    const stuck = path.join(deployment.folder, 'immutable.log');
    try {
      await daemon.call('role.unregister', { Name: 'ECE' });
      const backup = await daemon.call('backup.start', { Wait: true });
      const original = withoutTimes(await describeTree(deployment.folder));
      writeFileSync(stuck, 'written after the backup');
      execFileSync('chattr', ['+i', stuck]);
      const result = await daemon.call('backup.restore', {
        Name: backup.BackupId,
        DecryptionCertPath: deployment.pfxPath,
        DecryptionCertPassword: PFX_PASSWORD,
        RoleName: 'CA',
        Wait: true,
      });
      assert.deepEqual(result.RestoredRoles, ['CA']);
      assert.deepEqual(withoutTimes(await describeTree(deployment.folder)), original);
      const parent = path.dirname(deployment.folder);
      const leftover = readdirSync(parent).find((name) => name.startsWith('CA.removing-'));
      assert.ok(leftover, 'the previous data is left beside the folder');
      // The previous data is removed after the job has reported; what is left is added to its record.
      let restore: Job | undefined;
      await waitUntil(async () => {
        const { jobs } = await daemon.call('job.list', {});
        restore = jobs.find((job) => job.Kind === 'Restore');
        return Boolean(restore?.Roles[0]?.ErrorMessage);
      }, "the restore's record naming the leftover");
      assert.equal(restore?.Outcome, 'Succeeded');
      assert.equal(restore?.Roles[0]?.Status, 'Succeeded');
      assert.match(
        restore?.Roles[0]?.ErrorMessage ?? '',
        new RegExp(`Remove '${path.join(parent, leftover)}' by hand`),
      );
      // Once it can be removed, the daemon's next start removes it (no restore of the role needed).
      execFileSync('chattr', ['-i', path.join(parent, leftover, 'immutable.log')]);
      daemon.stop();
      daemon.restart();
      await waitUntil(
        () => !readdirSync(parent).includes(leftover),
        'the leftover removed by the daemon start',
      );
      assert.ok(readdirSync(parent).includes(path.basename(deployment.folder)), 'the role folder stays');
    } finally {
      // Wherever the file ended up (links and FIFOs make chattr's exit status useless here).
      spawnSync('chattr', ['-R', '-i', deployment.root]);
      daemon.stop();
      [daemon.stateDir, deployment.root].forEach(removeDir);
    }
  });

  test('a corrupted role: Test-AzsBackup names the role and file; restore restores the others, reports it, and never touches it', async () => {
    const daemon = startDaemon();
    const deployment = await createDeployment(daemon);
    try {
      const backup = await daemon.call('backup.start', { Wait: true });
      const clean = await daemon.call('backup.test', {
        Name: backup.BackupId,
        DecryptionCertPath: deployment.pfxPath,
        DecryptionCertPassword: PFX_PASSWORD,
      });
      assert.deepEqual(
        clean.results.map((result) => result.Status),
        ['Succeeded', 'Succeeded', 'Succeeded'],
      );
      flipByte(roleFile(deployment.store, backup.BackupId, 'CA'), 4000);
      writeFileSync(path.join(deployment.folder, 'live-change.txt'), 'live data must stay');
      writeFileSync(path.join(deployment.scripted, 'ece-settings.xml'), 'changed after the backup');
      const live = withoutTimes(await describeTree(deployment.folder));
      for (const decryption of [
        {},
        { DecryptionCertPath: deployment.pfxPath, DecryptionCertPassword: PFX_PASSWORD },
      ]) {
        const { results } = await daemon.call('backup.test', { Name: backup.BackupId, ...decryption });
        const ca = results.find((result) => result.RoleName === 'CA')!;
        assert.equal(ca.Status, 'Failed');
        assert.match(ca.File ?? '', /CA\/CA\.azsb/);
        assert.ok(
          results
            .filter((result) => result.RoleName !== 'CA')
            .every((result) => result.Status === 'Succeeded'),
        );
      }
      const restore = {
        Name: backup.BackupId,
        DecryptionCertPath: deployment.pfxPath,
        DecryptionCertPassword: PFX_PASSWORD,
        Wait: true,
      };
      const result = await daemon.call('backup.restore', restore);
      assert.deepEqual(result.RestoredRoles.sort(), ['ECE', 'WAS']);
      assert.equal(result.FailedRoles.length, 1);
      const [failed] = result.FailedRoles;
      assert.equal(failed!.RoleName, 'CA');
      assert.equal(failed!.Reason, 'BackupCorrupt');
      assert.match(failed!.File ?? '', /CA\/CA\.azsb/);
      assert.match(failed!.ErrorMessage, /not restored.*Test-AzsBackup/);
      assert.deepEqual(withoutTimes(await describeTree(deployment.folder)), live, 'CA is untouched');
      assert.equal(readFileSync(path.join(deployment.scripted, 'ece-settings.xml'), 'utf8'), ECE_SETTINGS);
      const job = (await daemon.call('job.list', { Kind: ['Restore'] })).jobs[0]!;
      assert.equal(job.Outcome, 'PartialSucceeded');
      assert.deepEqual(job.Roles.map((role) => [role.RoleName, role.Status]).sort(), [
        ['CA', 'Failed'],
        ['ECE', 'Succeeded'],
        ['WAS', 'Succeeded'],
      ]);
      assert.match(job.Roles.find((role) => role.RoleName === 'CA')!.ErrorMessage ?? '', /CA\/CA\.azsb/);

      for (const role of ['WAS', 'ECE']) flipByte(roleFile(deployment.store, backup.BackupId, role), 300);
      writeFileSync(path.join(deployment.scripted, 'changed-after-backup.txt'), 'must stay');
      const scripted = withoutTimes(await describeTree(deployment.scripted));
      await assert.rejects(
        daemon.call('backup.restore', restore),
        rejectsWith('BackupCorrupt', /Nothing was restored.*role CA.*role (WAS|ECE).*role (WAS|ECE)/),
      );
      assert.deepEqual(withoutTimes(await describeTree(deployment.folder)), live);
      assert.deepEqual(withoutTimes(await describeTree(deployment.scripted)), scripted);
      assert.equal((await daemon.call('job.list', { Kind: ['Restore'], Top: 1 })).jobs[0]!.Outcome, 'Failed');
    } finally {
      daemon.stop();
      [daemon.stateDir, deployment.root].forEach(removeDir);
    }
  });

  test('-RoleName takes several roles (and one, as older clients send it); an unknown one restores nothing', async () => {
    const daemon = startDaemon();
    const deployment = await createDeployment(daemon);
    try {
      const backup = await daemon.call('backup.start', { Wait: true });
      const restore = {
        Name: backup.BackupId,
        DecryptionCertPath: deployment.pfxPath,
        DecryptionCertPassword: PFX_PASSWORD,
        Wait: true,
      };
      const plan = await daemon.call('backup.restorePlan', {
        Name: backup.BackupId,
        RoleName: ['ca', 'ECE', 'CA'],
      });
      assert.deepEqual(
        plan.Roles.map((role) => role.RoleName),
        ['CA', 'ECE'],
      );
      writeFileSync(path.join(deployment.scripted, 'ece-settings.xml'), 'changed after the backup');
      writeFileSync(path.join(deployment.folder, 'changed-after-backup.txt'), 'to be replaced');
      await assert.rejects(
        daemon.call('backup.restore', { ...restore, RoleName: ['CA', 'KeyVault'] }),
        rejectsWith('RoleNotFound', /KeyVault/),
      );
      assert.ok(existsSync(path.join(deployment.folder, 'changed-after-backup.txt')));
      const several = await daemon.call('backup.restore', { ...restore, RoleName: ['CA', 'ECE'] });
      assert.deepEqual(several.RestoredRoles.sort(), ['CA', 'ECE']);
      assert.deepEqual(several.FailedRoles, []);
      assert.ok(!existsSync(path.join(deployment.folder, 'changed-after-backup.txt')));
      assert.equal(readFileSync(path.join(deployment.scripted, 'ece-settings.xml'), 'utf8'), ECE_SETTINGS);
      const one = await daemon.call('backup.restore', { ...restore, RoleName: 'WAS' });
      assert.deepEqual(one.RestoredRoles, ['WAS']);
    } finally {
      daemon.stop();
      [daemon.stateDir, deployment.root].forEach(removeDir);
    }
  });

  test('a restore cancelled by its client: the job is Cancelled, and a role not reached is Failed, never Queued', async () => {
    const daemon = startDaemon();
    const deployment = await createDeployment(daemon);
    try {
      await daemon.call('role.unregister', { Name: 'ECE' });
      await daemon.call('role.register', {
        Name: 'Slow',
        Provider: 'PowerShell',
        BackupScript: "Set-Content -LiteralPath (Join-Path $StagingPath 'state.txt') -Value slow",
        RestoreScript: 'Start-Sleep -Seconds 120',
      });
      const backup = await daemon.call('backup.start', { Wait: true });
      const client = await daemon.connect();
      const restoring = client.call('backup.restore', {
        Name: backup.BackupId,
        DecryptionCertPath: deployment.pfxPath,
        DecryptionCertPassword: PFX_PASSWORD,
        RoleName: ['Slow', 'CA'],
        Wait: true,
      });
      restoring.catch(() => undefined);
      await restoreJob(daemon, (job) => job.Outcome === 'Running');
      // Verification is quick; then Slow's RestoreScript sleeps, with CA still to come.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      client.close();
      const job = await restoreJob(daemon, (candidate) => candidate.Outcome !== 'Running');
      assert.equal(job.Outcome, 'Cancelled');
      assert.match(job.ErrorMessage ?? '', /cancelled/);
      assert.deepEqual(
        job.Roles.map((role) => [role.RoleName, role.Status]),
        [
          ['Slow', 'Failed'],
          ['CA', 'Failed'],
        ],
      );
      assert.match(job.Roles[1]!.ErrorMessage ?? '', /cancelled/);
    } finally {
      daemon.stop();
      [daemon.stateDir, deployment.root].forEach(removeDir);
    }
  });

  test('wrong .pfx, wrong password, missing .pfx, unknown id, a backup with no manifest: each a clear error', async () => {
    const daemon = startDaemon();
    const deployment = await createDeployment(daemon);
    const other = tempDir('other');
    try {
      const backup = await daemon.call('backup.start', { Wait: true });
      await daemon.call('certificate.new', {
        Subject: 'CN=Other',
        CerPath: path.join(other, 'o.cer'),
        PfxPath: path.join(other, 'o.pfx'),
        PfxPassword: PFX_PASSWORD,
        ValidityYears: 1,
      });
      const restore = (overrides: Record<string, string>) =>
        daemon.call('backup.restore', {
          Name: backup.BackupId,
          DecryptionCertPath: deployment.pfxPath,
          DecryptionCertPassword: PFX_PASSWORD,
          Wait: true,
          ...overrides,
        });
      await assert.rejects(
        restore({ DecryptionCertPath: path.join(other, 'o.pfx') }),
        rejectsWith('DecryptionCertificateMismatch', new RegExp(backup.EncryptionCertThumbprint!)),
      );
      await assert.rejects(
        restore({ DecryptionCertPassword: 'wrong' }),
        rejectsWith('DecryptionFailed', /DecryptionCertPassword/),
      );
      await assert.rejects(
        daemon.call('backup.restore', {
          Name: backup.BackupId,
          DecryptionCertPath: deployment.pfxPath,
          DecryptionCertPassword: 'wrong',
          Wait: false,
        }),
        rejectsWith('DecryptionFailed'),
        'a restore that does not wait still checks the .pfx before it answers',
      );
      await assert.rejects(
        restore({ DecryptionCertPath: path.join(other, 'missing.pfx') }),
        rejectsWith('CertificateNotFound', /DecryptionCertPath/),
      );
      await assert.rejects(
        restore({ Name: '00000000-0000-4000-8000-000000000000' }),
        rejectsWith('BackupNotFound'),
      );
      rmSync(
        path.join(
          path.dirname(path.dirname(roleFile(deployment.store, backup.BackupId, 'CA'))),
          'BackupInfo.json',
        ),
      );
      await assert.rejects(restore({}), rejectsWith('BackupNotFound'));
    } finally {
      daemon.stop();
      [daemon.stateDir, deployment.root, other].forEach(removeDir);
    }
  });

  test('certificate rotation: backups under cert 1 and cert 2 each restore with their own .pfx only', async () => {
    const daemon = startDaemon();
    const deployment = await createDeployment(daemon);
    const second = tempDir('cert2');
    try {
      await daemon.call('role.unregister', { Name: 'ECE' });
      const first = await daemon.call('backup.start', { Wait: true });
      const cert2 = await daemon.call('certificate.new', {
        Subject: 'CN=Second',
        CerPath: path.join(second, '2.cer'),
        PfxPath: path.join(second, '2.pfx'),
        PfxPassword: PFX_PASSWORD,
        ValidityYears: 1,
      });
      await daemon.call('config.set', { EncryptionCertPath: cert2.CerPath });
      const next = await daemon.call('backup.start', { Wait: true });
      assert.equal(next.EncryptionCertThumbprint, cert2.Thumbprint);
      assert.notEqual(first.EncryptionCertThumbprint, cert2.Thumbprint);
      const test = (name: string, pfx: string) =>
        daemon.call('backup.test', {
          Name: name,
          DecryptionCertPath: pfx,
          DecryptionCertPassword: PFX_PASSWORD,
        });
      assert.ok(
        (await test(first.BackupId, deployment.pfxPath)).results.every(
          (result) => result.Status === 'Succeeded',
        ),
      );
      assert.ok(
        (await test(next.BackupId, cert2.PfxPath)).results.every((result) => result.Status === 'Succeeded'),
      );
      await assert.rejects(
        test(first.BackupId, cert2.PfxPath),
        rejectsWith('DecryptionCertificateMismatch', new RegExp(first.EncryptionCertThumbprint!)),
      );
      await assert.rejects(
        test(next.BackupId, deployment.pfxPath),
        rejectsWith('DecryptionCertificateMismatch', new RegExp(cert2.Thumbprint)),
      );
    } finally {
      daemon.stop();
      [daemon.stateDir, deployment.root, second].forEach(removeDir);
    }
  });

  test('kill -9 during a restore: rerunning it completes, and no role is left half old, half new', async () => {
    const daemon = startDaemon();
    const deployment = await createDeployment(daemon);
    try {
      await daemon.call('role.unregister', { Name: 'ECE' });
      for (let index = 0; index < 300; index += 1)
        writeFileSync(path.join(deployment.folder, `bulk-${index}.bin`), Buffer.alloc(100_000, index));
      const backup = await daemon.call('backup.start', { Wait: true });
      const original = withoutTimes(await describeTree(deployment.folder));
      rmSync(deployment.folder, { recursive: true });
      const started = daemon.call('backup.restore', {
        Name: backup.BackupId,
        DecryptionCertPath: deployment.pfxPath,
        DecryptionCertPassword: PFX_PASSWORD,
        Wait: true,
      });
      started.catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 400));
      process.kill(daemon.pid, 'SIGKILL');
      if (existsSync(deployment.folder))
        assert.deepEqual(
          withoutTimes(await describeTree(deployment.folder)),
          original,
          'a role is either untouched or complete',
        );
      daemon.restart();
      await daemon.call('backup.restore', {
        Name: backup.BackupId,
        DecryptionCertPath: deployment.pfxPath,
        DecryptionCertPassword: PFX_PASSWORD,
        Wait: true,
      });
      assert.deepEqual(withoutTimes(await describeTree(deployment.folder)), original);
      const siblings = readdirSync(path.dirname(deployment.folder)).filter((name) => name.startsWith('CA.'));
      assert.deepEqual(siblings, [], `leftovers beside the role: ${siblings}`);
    } finally {
      daemon.stop();
      [daemon.stateDir, deployment.root].forEach(removeDir);
    }
  });
});
