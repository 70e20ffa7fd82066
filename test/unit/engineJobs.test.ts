/**
 * The engine's jobs through its own API, against a local folder with a fixed clock: backup → list →
 * test → restore → retention → prune, each job's handle and record.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { JobProgress } from '../../src/engine/job.js';
import { createEngine, type EngineFixture } from '../helpers/engine.js';

describe('engine jobs', () => {
  let fixture: EngineFixture;
  let firstBackupId: string;
  const original = () => readFileSync(path.join(fixture.data, 'settings.json'), 'utf8');

  before(async () => {
    fixture = await createEngine();
  });
  after(() => fixture.close());

  test('a backup is accepted Running, reports structured progress, and is done Succeeded', async () => {
    const events: JobProgress[] = [];
    const job = fixture.engine.startBackup({ progress: (event) => events.push(event) });
    const running = await job.accepted;
    assert.equal(running.Status, 'Running');
    const done = await job.done;
    assert.equal(done.BackupId, running.BackupId);
    assert.equal(done.Status, 'Succeeded');
    assert.deepEqual(events.at(-1), {
      role: 'CA',
      phase: 'backedUp',
      bytes: events.at(-1)!.bytes,
      totalBytes: null,
      done: 1,
      total: 1,
    });
    assert.ok(events.at(-1)!.bytes > 70_000, 'the role source bytes are counted');
    firstBackupId = done.BackupId;
  });

  test('the backup is listed, and its job recorded', async () => {
    const backups = await fixture.engine.listBackups({});
    assert.deepEqual(
      backups.map((backup) => backup.BackupId),
      [firstBackupId],
    );
    const [job] = await fixture.engine.history.find({ Kind: ['Backup'] });
    assert.equal(job!.JobId, firstBackupId);
    assert.equal(job!.Outcome, 'Succeeded');
  });

  test('the backup tests Succeeded with the .pfx', async () => {
    const results = await fixture.engine.testBackup(firstBackupId, fixture.decryption);
    assert.deepEqual(
      results.map((result) => [result.RoleName, result.Status]),
      [['CA', 'Succeeded']],
    );
  });

  test('a restore is accepted with the backup id and done with the role restored', async () => {
    const before = original();
    writeFileSync(path.join(fixture.data, 'settings.json'), 'changed since the backup\n');
    const events: JobProgress[] = [];
    const job = fixture.engine.restore(
      { Name: firstBackupId, ...fixture.decryption },
      { progress: (event) => events.push(event) },
    );
    assert.equal(await job.accepted, firstBackupId);
    const result = await job.done;
    assert.deepEqual(result, { BackupId: firstBackupId, RestoredRoles: ['CA'], FailedRoles: [] });
    assert.equal(original(), before);
    assert.deepEqual(
      events.map((event) => [event.phase, event.role, event.done, event.total]),
      [['restoring', 'CA', 0, 1]],
    );
  });

  test('a restore with a wrong password is refused before it is accepted', async () => {
    const job = fixture.engine.restore({
      Name: firstBackupId,
      ...fixture.decryption,
      DecryptionCertPassword: 'wrong',
    });
    await assert.rejects(job.accepted);
    await assert.rejects(job.done);
  });

  test('retention removes the backup older than the period once a newer one is stored', async () => {
    await fixture.engine.setConfiguration({ BackupRetentionPeriodInDays: 2 });
    fixture.clock.advanceHours(3 * 24);
    const second = await fixture.engine.startBackup().done;
    const backups = await fixture.engine.listBackups({});
    assert.deepEqual(
      backups.map((backup) => backup.BackupId),
      [second.BackupId],
    );
  });

  test('prune lists an orphan on a dry run and removes it otherwise, recording the job', async () => {
    const orphan = path.join(
      fixture.store,
      'MASBackup',
      '20200101T000000Z',
      '3f2b8f1e-1c1a-4c4b-9a51-2b0c7d4e5f60',
    );
    mkdirSync(path.join(orphan, 'CA'), { recursive: true });
    writeFileSync(path.join(orphan, 'CA', 'CA.azsb'), 'left by a crashed writer');
    const dryRun = fixture.engine.prune(true);
    await dryRun.accepted;
    const listed = (await dryRun.done).PathsToDelete;
    assert.equal(listed.length, 1);
    assert.match(listed[0]!, /20200101T000000Z/);
    assert.equal((await fixture.engine.history.find({ Kind: ['Prune'] })).length, 0, 'a dry run is no job');
    assert.deepEqual((await fixture.engine.prune(false).done).PathsToDelete, listed);
    assert.deepEqual((await fixture.engine.prune(true).done).PathsToDelete, []);
    const [prune] = await fixture.engine.history.find({ Kind: ['Prune'] });
    assert.equal(prune!.Outcome, 'Succeeded');
    assert.notEqual(prune!.EndTime, null);
  });
});
