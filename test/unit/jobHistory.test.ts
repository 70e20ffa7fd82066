/**
 * The job history: a finished job never lists a role as Queued or Running, whichever way it ended
 * (cancelled, failed, or cut short by a crash), and listings filter by outcome and kind.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  INTERRUPTED_MESSAGE,
  JobHistory,
  KEPT_JOB_DAYS,
  KEPT_JOBS,
  type JobRecord,
} from '../../src/state/jobHistory.js';
import { StateDir } from '../../src/state/stateDir.js';
import { removeDir, tempDir } from '../helpers/daemon.js';
import { DAY_MS } from '../../src/util/clock.js';

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

/** A clock the test moves. */
const clockAt = (time: string) => {
  let now = new Date(time);
  return { now: () => now, set: (next: string) => (now = new Date(next)) };
};

/** Job `n`, ended with `outcome`, started `n` minutes after `start`. */
const ended = (n: number, start: Date, outcome: JobRecord['Outcome'], kind: JobRecord['Kind'] = 'Backup') =>
  job(String(n), {
    Kind: kind,
    StartTime: new Date(start.getTime() + n * 60_000).toISOString(),
    EndTime: new Date(start.getTime() + n * 60_000 + 1000).toISOString(),
    Outcome: outcome,
    Roles: [],
  });

const jobFiles = (state: StateDir) => readdirSync(state.jobsDir).filter((name) => name.endsWith('.json'));

test(`trimming: jobs older than ${KEPT_JOB_DAYS} days go once more than ${KEPT_JOBS} newer ones are kept; the newest good backups stay`, async () => {
  const folder = tempDir('jobs');
  try {
    const state = await StateDir.open(folder);
    const clock = clockAt('2026-06-01T00:00:00Z');
    const history = new JobHistory(state, undefined, clock);
    // Written as by a daemon before the bound: KEPT_JOBS + 5 jobs, all of one day long ago.
    const longAgo = new Date('2026-01-01T00:00:00Z');
    mkdirSync(state.jobsDir, { recursive: true });
    for (let n = 0; n < KEPT_JOBS + 5; n++) {
      const outcome = n === 0 ? 'Succeeded' : n === 1 ? 'PartialSucceeded' : 'Failed';
      const record = ended(n, longAgo, outcome);
      writeFileSync(
        path.join(state.jobsDir, `${record.StartTime.replace(/[-:.]/g, '')}-${n}.json`),
        JSON.stringify(record),
      );
    }
    // A job's end trims: the newest KEPT_JOBS stay, and of the older ones only the newest good backups.
    await history.save(ended(KEPT_JOBS + 10, longAgo, 'Cancelled', 'Restore'));
    const ids = (await history.list()).map((record) => record.JobId);
    assert.equal(ids.length, KEPT_JOBS + 2);
    assert.deepEqual(ids.slice(-2), ['1', '0']);
    assert.equal(ids[KEPT_JOBS - 1], '6');
    assert.equal(await history.lastGoodBackupTime(), ended(1, longAgo, 'PartialSucceeded').StartTime);

    // Jobs of the last KEPT_JOB_DAYS all stay, however many.
    clock.set(new Date(longAgo.getTime() + (KEPT_JOB_DAYS - 1) * DAY_MS).toISOString());
    const recent = new Date(clock.now().getTime() - DAY_MS / 2);
    await history.save(ended(2001, recent, 'Succeeded'));
    assert.equal(jobFiles(state).length, KEPT_JOBS + 3);

    // A new good backup frees the old ones; the clock passing KEPT_JOB_DAYS lets them go.
    clock.set(new Date(longAgo.getTime() + (KEPT_JOB_DAYS + 1) * DAY_MS).toISOString());
    await history.save(ended(2002, recent, 'Succeeded'));
    const left = (await history.list()).map((record) => record.JobId);
    assert.equal(left.length, KEPT_JOBS);
    assert.deepEqual(left.slice(0, 2), ['2002', '2001']);
    assert.equal(await history.lastGoodBackupTime(), ended(2002, recent, 'Succeeded').StartTime);
  } finally {
    removeDir(folder);
  }
});

test('a running job is never trimmed, and a job that has not ended does not trim', async () => {
  const folder = tempDir('jobs');
  try {
    const state = await StateDir.open(folder);
    const history = new JobHistory(state, undefined, clockAt('2027-12-01T00:00:00Z'));
    await history.save(job('1'));
    await history.save(job('2', { StartTime: '2026-12-02T01:00:00.000Z' }));
    assert.equal(jobFiles(state).length, 2);
    await history.save(job('2', { StartTime: '2026-12-02T01:00:00.000Z', Outcome: 'Failed' }));
    assert.equal(jobFiles(state).length, 2, 'fewer than KEPT_JOBS jobs: none goes, however old');
  } finally {
    removeDir(folder);
  }
});

test('LastBackupTime: the start of the newest backup that ended Succeeded or PartialSucceeded, kept in last-good-backup.json', async () => {
  const folder = tempDir('jobs');
  try {
    const state = await StateDir.open(folder);
    const history = new JobHistory(state);
    assert.equal(await history.lastGoodBackupTime(), null);
    await history.save(job('1', { Outcome: 'Succeeded', Roles: [] }));
    await history.save(job('2', { Outcome: 'PartialSucceeded', Roles: [] }));
    await history.save(job('3', { Outcome: 'Failed', Roles: [] }));
    await history.save(job('4', { Kind: 'Restore', Outcome: 'Succeeded', Roles: [] }));
    await history.save(job('5'));
    assert.equal(await history.lastGoodBackupTime(), job('2').StartTime);
    // An older job that ends late (a crash found at start) does not move it back.
    await history.save(job('1', { Outcome: 'Succeeded', Roles: [] }));
    assert.equal(await history.lastGoodBackupTime(), job('2').StartTime);
    // Another daemon on the folder reads it from the file, not from the jobs.
    rmSync(state.jobsDir, { recursive: true });
    assert.equal(await new JobHistory(state).lastGoodBackupTime(), job('2').StartTime);
  } finally {
    removeDir(folder);
  }
});

test('a state folder written before last-good-backup.json: found once from the history, then kept', async () => {
  const folder = tempDir('jobs');
  try {
    const state = await StateDir.open(folder);
    mkdirSync(state.jobsDir);
    for (const record of [
      job('1', { Outcome: 'Succeeded', Roles: [] }),
      job('2', { Outcome: 'PartialSucceeded', Roles: [] }),
      job('3', { Outcome: 'Failed', Roles: [] }),
    ]) {
      writeFileSync(
        path.join(state.jobsDir, `${record.StartTime.replace(/[-:.]/g, '')}-${record.JobId}.json`),
        JSON.stringify(record),
      );
    }
    assert.equal(existsSync(state.lastGoodBackupFile), false);
    assert.equal(await new JobHistory(state).lastGoodBackupTime(), job('2').StartTime);
    assert.deepEqual(JSON.parse(readFileSync(state.lastGoodBackupFile, 'utf8')), {
      Good: { JobId: '2', StartTime: job('2').StartTime },
      Succeeded: { JobId: '1', StartTime: job('1').StartTime },
    });
    // An unreadable file is found again from the history the same way.
    writeFileSync(state.lastGoodBackupFile, '{"Good": ');
    assert.equal(await new JobHistory(state).lastGoodBackupTime(), job('2').StartTime);
  } finally {
    removeDir(folder);
  }
});
