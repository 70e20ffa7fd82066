/**
 * The metrics file for Prometheus's textfile collector, written by a real daemon for a real
 * deployment: promtool accepts it; its values are those of the job history, the alerts and the
 * free-space samples; a reader never sees a partial file while jobs rewrite it; after a kill -9 and
 * a restart it is rebuilt with the same values; a bad MetricsPath is refused, naming the parameter.
 *
 * The store is a tmpfs of its own, so its free space changes only with what the daemon writes there
 * and the free-space figure can be compared exactly across a restart.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RpcError } from '../../src/daemon/client.js';
import { METRICS_FILE } from '../../src/engine/metrics.js';
import { LAST_METRIC } from '../../src/notify/prometheus.js';
import type { Job } from '../../src/protocol/objects.js';
import type { CapacitySample } from '../../src/state/capacityLog.js';
import { removeDir, startDaemon, tempDir, type TestDaemon } from '../helpers/daemon.js';
import { createDeployment, type Deployment } from '../helpers/deployment.js';
import { mountReadOnly, mountTmpfs, unmount } from '../helpers/mounts.js';
import { parseMetrics, sampleMap } from '../helpers/promText.js';
import { waitUntil } from '../helpers/waitUntil.js';

let daemon: TestDaemon;
let deployment: Deployment;
let metricsFolder: string;
let metricsFile: string;
let location: string;

before(async () => {
  daemon = startDaemon();
  deployment = await createDeployment(daemon);
  await daemon.call('role.unregister', { Name: 'ECE' });
  mountTmpfs(deployment.store, '256m');
  metricsFolder = tempDir('metrics');
  metricsFile = path.join(metricsFolder, METRICS_FILE);
  location = JSON.parse(readFileSync(path.join(daemon.stateDir, 'deployment.json'), 'utf8')).Location;
});

after(() => {
  daemon?.stop();
  if (deployment) unmount(deployment.store);
  [daemon?.stateDir, deployment?.root, metricsFolder].forEach((folder) => folder && removeDir(folder));
});

function promtool(file: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: readFileSync(file), encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}${result.error ?? ''}` };
}

function readSamples(): Record<string, number> {
  return sampleMap(parseMetrics(readFileSync(metricsFile, 'utf8')));
}

/** What the file must say, computed here from what the daemon reports and persisted. */
async function expectedSamples(): Promise<Record<string, number>> {
  const { jobs } = await daemon.call('job.list', { Kind: ['Backup'] });
  const ended = jobs.filter((job) => job.Outcome !== 'Running' && job.Outcome !== 'Skipped');
  const lastSuccess = ended.find((job) => job.Outcome === 'Succeeded');
  const { alerts } = await daemon.call('alert.list', { State: 'Active' });
  const { location: config } = await daemon.call('config.get', {});
  const capacity = JSON.parse(
    readFileSync(path.join(daemon.stateDir, 'capacity.json'), 'utf8'),
  ) as CapacitySample[];
  const loc = `location=${JSON.stringify(location)}`;
  const samples: Record<string, number> = {
    [`azsbackup_last_success_timestamp_seconds{${loc}}`]: lastSuccess ? seconds(lastSuccess.EndTime!) : 0,
    [`azsbackup_store_free_bytes{${loc}}`]: capacity.at(-1)!.AvailableBytes,
    [`azsbackup_encryption_cert_expiry_timestamp_seconds{${loc}}`]: seconds(config.EncryptionCertExpiry!),
    [`${LAST_METRIC}{${loc}}`]: config.IsBackupSchedulerEnabled ? 1 : 0,
  };
  for (const severity of ['Critical', 'Warning']) {
    samples[`azsbackup_active_alerts{${loc},severity="${severity}"}`] = alerts.filter(
      (alert) => alert.Severity === severity,
    ).length;
  }
  const newest = ended[0];
  if (newest) Object.assign(samples, backupSamples(newest, loc));
  return samples;
}

function backupSamples(job: Job, loc: string): Record<string, number> {
  const samples: Record<string, number> = {
    [`azsbackup_backup_duration_seconds{${loc}}`]:
      (Date.parse(job.EndTime!) - Date.parse(job.StartTime)) / 1000,
    [`azsbackup_backup_stored_bytes{${loc}}`]: job.StoredBytes ?? 0,
  };
  for (const role of job.Roles) {
    samples[`azsbackup_last_backup_status{${loc},role=${JSON.stringify(role.RoleName)}}`] =
      role.Status === 'Succeeded' ? 1 : 0;
  }
  return samples;
}

function seconds(isoTime: string): number {
  return Date.parse(isoTime) / 1000;
}

/** The file catches up with the state soon after a change (its writes follow the events); then it must match. */
async function assertFileMatches(expected: Record<string, number>): Promise<void> {
  const matches = () => {
    try {
      assert.deepEqual(readSamples(), expected);
      return true;
    } catch {
      return false;
    }
  };
  await waitUntil(matches, 'the metrics file showing the persisted state', 15_000).catch(() => undefined);
  assert.deepEqual(readSamples(), expected);
}

/** Takes the Directory role's folder away, so the next backup fails that role (and opens RolesFailed). */
function breakDirectoryRole(): () => void {
  const away = `${deployment.folder}.away`;
  renameSync(deployment.folder, away);
  return () => renameSync(away, deployment.folder);
}

describe('metrics file', () => {
  test('MetricsPath set: written at once, before any backup (last success 0, no per-backup series)', async () => {
    const { location: saved } = await daemon.call('config.set', { MetricsPath: metricsFolder });
    assert.equal(saved.MetricsPath, metricsFolder);
    assert.ok(existsSync(metricsFile), 'the file is written when MetricsPath is set');
    const samples = readSamples();
    assert.equal(
      samples[`azsbackup_last_success_timestamp_seconds{location=${JSON.stringify(location)}}`],
      0,
    );
    assert.ok(!Object.keys(samples).some((key) => key.startsWith('azsbackup_last_backup_status')));
    await assertFileMatches(await expectedSamples());
    assert.equal(statSync(metricsFile).mode & 0o777, 0o644);
  });

  test('after a good backup: promtool accepts the file; values are the job’s, the store’s and the certificate’s', async () => {
    const backup = await daemon.call('backup.start', { Wait: true });
    assert.equal(backup.Status, 'Succeeded');
    const expected = await expectedSamples();
    await assertFileMatches(expected);
    const loc = `location=${JSON.stringify(location)}`;
    assert.ok(expected[`azsbackup_backup_stored_bytes{${loc}}`]! > 0);
    assert.equal(expected[`azsbackup_last_backup_status{${loc},role="CA"}`], 1);
    assert.equal(expected[`azsbackup_last_backup_status{${loc},role="WAS"}`], 1);
    const checked = promtool(metricsFile);
    assert.equal(checked.status, 0, checked.output);
  });

  test('after a fault: the failed role shows 0, the alert is counted, a PartialSucceeded is no success', async () => {
    const loc = `location=${JSON.stringify(location)}`;
    const successBefore = readSamples()[`azsbackup_last_success_timestamp_seconds{${loc}}`];
    const repair = breakDirectoryRole();
    try {
      const backup = await daemon.call('backup.start', { Wait: true });
      assert.equal(backup.Status, 'PartialSucceeded');
    } finally {
      repair();
    }
    const expected = await expectedSamples();
    await assertFileMatches(expected);
    assert.equal(expected[`azsbackup_last_backup_status{${loc},role="CA"}`], 0);
    assert.equal(expected[`azsbackup_last_backup_status{${loc},role="WAS"}`], 1);
    assert.ok(expected[`azsbackup_active_alerts{${loc},severity="Critical"}`]! >= 1);
    assert.equal(expected[`azsbackup_last_success_timestamp_seconds{${loc}}`], successBefore);
    const checked = promtool(metricsFile);
    assert.equal(checked.status, 0, checked.output);
  });

  test('a reader never sees a partial file: 10,000 reads or more while 20 jobs rewrite it', async () => {
    let jobsRunning = true;
    const failures: string[] = [];
    const versions = new Set<string>();
    let reads = 0;
    const reader = (async () => {
      while (jobsRunning) {
        try {
          const text = await readFile(metricsFile, 'utf8');
          parseMetrics(text);
          if (!text.includes(`\n${LAST_METRIC}{`)) throw new Error(`${LAST_METRIC} missing`);
          versions.add(text);
        } catch (error) {
          failures.push(String(error));
        }
        reads += 1;
      }
    })();
    let jobs = 0;
    try {
      while (jobs < 20 || reads < 10_000) {
        const repair = jobs % 4 === 1 ? breakDirectoryRole() : () => undefined;
        try {
          await daemon.call('backup.start', { Wait: true });
        } finally {
          repair();
        }
        jobs += 1;
      }
    } finally {
      jobsRunning = false;
      await reader;
    }
    assert.deepEqual(failures.slice(0, 5), []);
    assert.ok(reads >= 10_000, `${reads} reads`);
    // Reads overlapped the rewrites: the reader saw the file change from job to job.
    assert.ok(versions.size >= 10, `${versions.size} versions seen`);
    await assertFileMatches(await expectedSamples());
    // A temporary file exists only while a write is under way.
    const onlyTheFile = () => readdirSync(metricsFolder).join() === METRICS_FILE;
    await waitUntil(onlyTheFile, 'the folder holding the metrics file alone', 10_000).catch(() => undefined);
    assert.deepEqual(readdirSync(metricsFolder), [METRICS_FILE], 'no temporary file is left behind');
  });

  test('kill -9, file deleted, restart: the rewritten file holds the same values; a temporary file left is removed', async () => {
    await assertFileMatches(await expectedSamples());
    const before = readSamples();
    process.kill(daemon.pid, 'SIGKILL');
    rmSync(metricsFile);
    const leftover = path.join(metricsFolder, `.${METRICS_FILE}.0123456789ab.tmp`);
    writeFileSync(leftover, '# a write cut short by the kill\n');
    daemon.restart();
    await waitUntil(() => existsSync(metricsFile), 'the metrics file rewritten after the restart', 30_000);
    await assertFileMatches(before);
    assert.equal(existsSync(leftover), false, 'the killed daemon’s temporary file is removed');
  });

  test('MetricsPath cleared: the file is removed and no longer written; set again: written again', async () => {
    const { location: cleared } = await daemon.call('config.set', { MetricsPath: '' });
    assert.equal(cleared.MetricsPath, null);
    assert.equal(existsSync(metricsFile), false);
    await daemon.call('backup.start', { Wait: true });
    assert.equal(existsSync(metricsFile), false);
    await daemon.call('config.set', { MetricsPath: metricsFolder });
    await assertFileMatches(await expectedSamples());
  });

  test('MetricsPath moved to another folder: the old file is removed, and back', async () => {
    const other = tempDir('metrics-other');
    try {
      await daemon.call('config.set', { MetricsPath: other });
      assert.equal(existsSync(metricsFile), false);
      assert.ok(existsSync(path.join(other, METRICS_FILE)));
      await daemon.call('config.set', { MetricsPath: metricsFolder });
      assert.equal(existsSync(path.join(other, METRICS_FILE)), false);
      await assertFileMatches(await expectedSamples());
    } finally {
      removeDir(other);
    }
  });
});

describe('MetricsPath validation', () => {
  let work: string;
  before(() => {
    work = tempDir('metrics-bad');
  });
  after(() => removeDir(work));

  async function assertRefused(metricsPath: string, reason: RegExp): Promise<void> {
    const saved = (await daemon.call('config.get', {})).location.MetricsPath;
    await assert.rejects(daemon.call('config.set', { MetricsPath: metricsPath }), (error: unknown) => {
      assert.ok(error instanceof RpcError);
      assert.equal(error.data?.reason, 'InvalidParameter');
      assert.equal(error.data?.parameter, 'MetricsPath');
      assert.match(error.message, /^MetricsPath '/);
      assert.match(error.message, reason);
      assert.match(error.message, /full path of an existing folder/);
      return true;
    });
    assert.equal((await daemon.call('config.get', {})).location.MetricsPath, saved, 'nothing saved');
  }

  test('relative, missing, a file, a symbolic link and a read-only folder are refused, naming MetricsPath', async () => {
    await assertRefused('metrics/textfile', /not an absolute path/);
    await assertRefused(path.join(work, 'missing'), /does not exist/);
    writeFileSync(path.join(work, 'a-file'), '');
    await assertRefused(path.join(work, 'a-file'), /is not a folder/);
    mkdirSync(path.join(work, 'real'));
    symlinkSync(path.join(work, 'real'), path.join(work, 'link'));
    await assertRefused(path.join(work, 'link'), /symbolic link/);
    const readOnly = path.join(work, 'read-only');
    mkdirSync(readOnly);
    mountReadOnly(readOnly);
    try {
      await assertRefused(readOnly, /create and rename a file \(EROFS\)/);
    } finally {
      unmount(readOnly);
    }
  });
});
