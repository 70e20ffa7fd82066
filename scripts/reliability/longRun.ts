/**
 * Scenario 6, long run: back-to-back backups with a 2-day retention on a clock moved 6 hours before
 * each. Each backup is verified (Test-AzsBackup with the .pfx, extract byte for byte); after each,
 * the store must hold exactly what retention allows (backups within 2 days of the clock, plus the
 * newest recovery-ready one), and the daemon's memory (VmRSS) and open descriptors (/proc/<pid>/fd)
 * must stay flat: the last 10% of the samples against the first 10% (after a warm-up, see below).
 */
import { applyRetention } from '../../src/engine/retention.js';
import {
  Cleanup,
  digestsOf,
  directoryRole,
  errorMessage,
  listedIds,
  openFiles,
  residentMiB,
  sqliteRole,
  Tally,
  verifyCommitted,
  within,
  type Committed,
  type SuiteOptions,
  startDeployment,
} from './common.js';

const RETENTION_DAYS = 2;
const HOURS_BETWEEN_BACKUPS = 6;
/**
 * The first backups warm the daemon up (V8 grows its heap, worker threads start); measured: VmRSS
 * climbs for about 30 backups, then moves within a band of about 35 MiB as the garbage collector
 * runs. Samples are compared after this many backups...
 */
const WARM_UP_BACKUPS = 10;
/** ...and may grow this much from the first tenth to the last: GC noise, not a leak. */
const RSS_NOISE_MIB = 40;
const FD_NOISE = 2;
/** Each tenth is at least this many samples, so one GC pause does not decide. */
const MIN_WINDOW = 3;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function flat(tally: Tally, what: string, samples: number[], noise: number, options: SuiteOptions): void {
  const compared = samples.slice(WARM_UP_BACKUPS);
  const tenth = Math.max(MIN_WINDOW, Math.floor(compared.length / 10));
  const first = median(compared.slice(0, tenth));
  const last = median(compared.slice(-tenth));
  options.log(
    `long run: ${what} first 10% median ${first.toFixed(1)}, last 10% median ${last.toFixed(1)}, max ${Math.max(...samples).toFixed(1)}`,
  );
  tally.check(
    last - first <= noise,
    `${what} grew from ${first.toFixed(1)} to ${last.toFixed(1)} over the run`,
  );
}

export async function longRun(options: SuiteOptions): Promise<Tally> {
  const tally = new Tally('6. long run');
  const cleanup = new Cleanup();
  const backups = options.short ? 20 : 200;
  try {
    const { daemon, deployment } = await startDeployment(cleanup, { testHooks: true });
    await daemon.call('config.set', {
      BackupRetentionPeriodInDays: RETENTION_DAYS,
      IsBackupSchedulerEnabled: false,
    });
    const roles = [
      directoryRole('CA', deployment.folder),
      sqliteRole('WAS', deployment.database),
      directoryRole('ECE', deployment.scripted),
    ];
    const target = { daemon, pfxPath: deployment.pfxPath, storeFolder: deployment.store, roles };
    const digests = await digestsOf(roles);
    const committed: Committed[] = [];
    const memory: number[] = [];
    const descriptors: number[] = [];
    for (let run = 0; run < backups; run += 1) {
      tally.runs += 1;
      await daemon.call('test.advanceClock', { Hours: HOURS_BETWEEN_BACKUPS });
      const backup = await within(daemon.call('backup.start', { Wait: true }), 300_000, 'backup');
      if (!tally.check(backup.Status === 'Succeeded', `backup ${run + 1} ended ${backup.Status}`)) continue;
      const created: Committed = {
        backupId: backup.BackupId,
        created: backup.CreatedDateTime,
        ready: true,
        digests,
      };
      committed.push(created);
      tally.committed += 1;
      const problem = await verifyCommitted(target, created);
      if (problem) tally.lose(problem);
      else tally.verified += 1;
      const now = new Date((await daemon.call('test.advanceClock', { Hours: 0 })).now);
      const allowed = applyRetention(
        committed.map((item) => ({
          BackupId: item.backupId,
          CreatedDateTime: item.created,
          IsCloudRecoveryReady: item.ready,
        })),
        RETENTION_DAYS,
        now,
      ).keep.map(({ backup: kept }) => kept.BackupId);
      const listed = await listedIds(daemon);
      tally.check(
        [...listed].sort().join() === [...allowed].sort().join(),
        `after backup ${run + 1} the store holds ${listed.length} backups, retention allows ${allowed.length}`,
      );
      memory.push(residentMiB(daemon.pid));
      descriptors.push(openFiles(daemon.pid));
      if ((run + 1) % 10 === 0)
        options.log(
          `long run: ${run + 1}/${backups} backups, ${listed.length} on the store, VmRSS ${memory.at(-1)!.toFixed(0)} MiB, ${descriptors.at(-1)} fds`,
        );
    }
    flat(tally, 'daemon VmRSS (MiB)', memory, RSS_NOISE_MIB, options);
    flat(tally, 'daemon open descriptors', descriptors, FD_NOISE, options);
  } catch (error) {
    tally.fail(`scenario stopped: ${errorMessage(error)}`);
  } finally {
    await cleanup.run();
  }
  return tally;
}
