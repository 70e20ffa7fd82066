/**
 * The job history: a finished job never lists a role as Queued or Running, whichever way it ended
 * (cancelled, failed, or cut short by a crash), and listings filter by outcome and kind.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { INTERRUPTED_MESSAGE, JobHistory, type JobRecord } from '../../src/state/jobHistory.js';
import { StateDir } from '../../src/state/stateDir.js';
import { removeDir, tempDir } from '../helpers/daemon.js';

const job = (id: string, overrides: Partial<JobRecord> = {}): JobRecord => ({
  SourceBytes: null,
  StoredBytes: null,
  RoleMeasures: [],
  JobId: id,
  Kind: 'Backup',
  BackupId: id,
  IsAutomatic: false,
  StartTime: `2026-12-0${id}T01:00:00.000Z`,
  EndTime: null,
  Outcome: 'Running',
  ErrorMessage: null,
  Roles: [
    { RoleName: 'CA', Status: 'Succeeded', ErrorMessage: null },
    { RoleName: 'WAS', Status: 'Running', ErrorMessage: null },
    { RoleName: 'ECE', Status: 'Queued', ErrorMessage: null },
  ],
  ...overrides,
});

const statuses = (record: JobRecord | undefined) =>
  record?.Roles.map((role) => [role.RoleName, role.Status, role.ErrorMessage]);

test('a job saved as ended closes its Queued and Running roles as Failed with its error; a running one keeps them', async () => {
  const folder = tempDir('jobs');
  try {
    const history = new JobHistory(await StateDir.open(folder));
    await history.save(job('1'));
    assert.deepEqual(statuses((await history.list())[0]), statuses(job('1')));
    const message = 'Backup 1 was cancelled; nothing of it was kept.';
    await history.save(job('1', { Outcome: 'Cancelled', ErrorMessage: message }));
    assert.deepEqual(statuses((await history.list())[0]), [
      ['CA', 'Succeeded', null],
      ['WAS', 'Failed', message],
      ['ECE', 'Failed', message],
    ]);
  } finally {
    removeDir(folder);
  }
});

test('a crash: the next daemon records the job as Failed and none of its roles as Running', async () => {
  const folder = tempDir('jobs');
  try {
    const history = new JobHistory(await StateDir.open(folder));
    await history.save(job('1'));
    await history.failInterrupted(new Date('2026-12-01T02:00:00Z'));
    const [record] = await history.list();
    assert.equal(record?.Outcome, 'Failed');
    assert.deepEqual(statuses(record)?.slice(1), [
      ['WAS', 'Failed', INTERRUPTED_MESSAGE],
      ['ECE', 'Failed', INTERRUPTED_MESSAGE],
    ]);
  } finally {
    removeDir(folder);
  }
});

test('a record written before roles were closed with their job is closed as it is read', async () => {
  const folder = tempDir('jobs');
  try {
    const state = await StateDir.open(folder);
    const history = new JobHistory(state);
    await history.save(job('1'));
    const file = path.join(state.jobsDir, '20261201T010000000Z-1.json');
    writeFileSync(
      file,
      JSON.stringify(job('1', { Outcome: 'Failed', ErrorMessage: 'The share went away.' })),
    );
    assert.deepEqual(statuses((await history.list())[0])?.slice(1), [
      ['WAS', 'Failed', 'The share went away.'],
      ['ECE', 'Failed', 'The share went away.'],
    ]);
  } finally {
    removeDir(folder);
  }
});

test('find: by outcome and kind (any of several), newest first, then the newest Top', async () => {
  const folder = tempDir('jobs');
  try {
    const history = new JobHistory(await StateDir.open(folder));
    await history.save(job('1', { Outcome: 'Succeeded', Roles: [] }));
    await history.save(job('2', { Outcome: 'Cancelled', Roles: [] }));
    await history.save(job('3', { Kind: 'Restore', Outcome: 'PartialSucceeded', Roles: [] }));
    await history.save(job('4', { Outcome: 'Failed', Roles: [] }));
    const ids = async (filter: Parameters<JobHistory['find']>[0]) =>
      (await history.find(filter)).map((record) => record.JobId);
    assert.deepEqual(await ids({}), ['4', '3', '2', '1']);
    assert.deepEqual(await ids({ Outcome: ['Failed', 'Cancelled'] }), ['4', '2']);
    assert.deepEqual(await ids({ Kind: ['Restore'] }), ['3']);
    assert.deepEqual(await ids({ Kind: ['Backup'], Top: 2 }), ['4', '2']);
    assert.deepEqual(await ids({ Outcome: ['Succeeded', 'PartialSucceeded'], Kind: ['Backup'] }), ['1']);
    assert.deepEqual(await ids({ Top: 0 }), []);
  } finally {
    removeDir(folder);
  }
});
