/**
 * `npm run bench -- --incremental [--backups 7]` (SPEC §7, issue 20): a series of backups of the
 * same data into one local store, about 1 % of it changed before each backup after the first
 * (scripts/benchChurn.ts). The first backup is compared with the tar script on the same data; each
 * backup's time and the store's growth (bytes on disk of every file under it, before and after) are
 * recorded; then the newest backup is restored and checked against the data. Where restic is on PATH,
 * it backs up the same data after each of our backups, into a repository of its own, and restores its
 * newest snapshot: its figures stand beside ours. What the engine stores is measured as it is: a
 * full copy every time with format 2, only what changed with a deduplicating format.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SAMPLE_DATABASES, changeSampleTree, type ChangeSummary } from './benchChurn.js';
import { Restic } from './benchRestic.js';
import { bytesOnDisk, listTree, treeBytes, treeDifferences, type TreeEntry } from './benchTree.js';
import { MB } from './sizes.js';

/** What the series needs from the bench: its folders, and our engine driven as the bench drives it. */
export interface SeriesBench {
  /** The data the roles are registered at; the series changes it. */
  data: string;
  store: string;
  /** A folder of the bench's own, for restic's repository and restore. */
  work: string;
  backups: number;
  /** One Start-AzsBackup in the bench's session, timed by the session and by the daemon. */
  backup(): Promise<Timed>;
  /** Seconds of the reference script over the data. */
  script(): Promise<number>;
  /** Seconds of Restore-AzsBackup of every role of the newest backup; returns once the data lists as `expected`. */
  restore(expected: Map<string, TreeEntry>): Promise<number>;
  /** Before a timed restore: the disk written out and recently freed inodes settled. */
  settle(): Promise<void>;
  /** Dirty pages written out, outside the timing. */
  sync(): void;
  daemonPeakRssKb(): number;
  resetDaemonPeakRss(): void;
  log(text: string): void;
}

/** The text the bench prints and its JSON line. */
export interface BenchOutcome {
  text: string;
  result: Record<string, unknown>;
}

/**
 * A backup's seconds as its caller timed them and, for ours, the daemon's own span of it (the
 * backup's TimeTakenToCreate, until its roles' content is stored): the difference is the call, the
 * cmdlet's shell (which a scheduled backup does not pay) and what ends the job (docs/benchmarks.md).
 */
interface Timed {
  seconds: number;
  daemonSeconds?: number;
}

/** One backup of a series: its times, what it added to the store, and the store's size after it. */
interface Backup extends Timed {
  grewBy: number;
  storeBytes: number;
}

/** One timed backup into `folder`, after the dirty pages of whatever ran before were written out. */
async function measured(bench: SeriesBench, folder: string, backup: () => Promise<Timed>): Promise<Backup> {
  bench.sync();
  const before = bytesOnDisk(folder);
  const timed = await backup();
  const storeBytes = bytesOnDisk(folder);
  return { ...timed, grewBy: storeBytes - before, storeBytes };
}

const mbps = (bytes: number, seconds: number) => Number((bytes / MB / seconds).toFixed(1));
const round = (seconds: number) => Number(seconds.toFixed(2));
/** How many times faster the second backup of a series was than the first. */
const speedup = (seconds: number[]) => Number((seconds[0]! / (seconds[1] ?? seconds[0]!)).toFixed(2));
const megabytes = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
const describe = (change: ChangeSummary) =>
  `${change.rows} rows, ${change.configFiles} configuration files, ${change.secrets} secrets, ` +
  `${megabytes(change.imageBytes)} of a disk image`;

export async function incrementalSeries(bench: SeriesBench): Promise<BenchOutcome> {
  const restic = await Restic.create(path.join(bench.work, 'restic'));
  bench.log(
    restic
      ? `${restic.version}: backs up the same data after each of ours`
      : 'restic is not on PATH: its figures are left out',
  );
  const sourceBytes = treeBytes(bench.data);
  /** What the store held before the series (the bench's warm-up backup), counted in every size. */
  const warmUpBytes = bytesOnDisk(bench.store);
  const ours: Backup[] = [];
  const theirs: Backup[] = [];
  const changes: ChangeSummary[] = [];
  let scriptSeconds = 0;
  for (let number = 1; number <= bench.backups; number += 1) {
    if (number > 1) {
      changes.push(changeSampleTree(bench.data, `azsbackup bench change ${number}`));
      bench.log(`changed before backup ${number}: ${describe(changes.at(-1)!)}`);
    }
    ours.push(await measured(bench, bench.store, bench.backup));
    bench.log(`backup ${number}: ${backupText(ours.at(-1)!)}`);
    if (number === 1) {
      bench.sync();
      scriptSeconds = await bench.script();
      bench.log(`tar | zstd -3 -T2 | openssl enc: ${mbps(sourceBytes, scriptSeconds)} MB/s of source`);
    }
    if (restic) {
      theirs.push(
        await measured(bench, restic.repository, async () => ({ seconds: await restic.backup(bench.data) })),
      );
      bench.log(`restic backup ${number}: ${backupText(theirs.at(-1)!)}`);
    }
  }
  const backupPeakRssKb = bench.daemonPeakRssKb();

  const restoredBytes = treeBytes(bench.data);
  const expected = dataFacts(bench.data);
  await bench.settle();
  bench.resetDaemonPeakRss();
  const restoreSeconds = await bench.restore(expected.listing);
  const restorePeakRssKb = bench.daemonPeakRssKb();
  const problems = factDifferences(expected, dataFacts(bench.data));
  if (problems.length)
    throw new Error(`the restored data differs from the data backed up: ${problems.join('; ')}`);
  bench.log(`restore of backup ${bench.backups}: ${round(restoreSeconds)} s, the data checked whole`);
  const resticRestoreSeconds = restic && (await restoreRestic(restic, bench, expected.listing));

  const figures = seriesFigures(ours, sourceBytes);
  const resticFigures = restic && resticRestoreSeconds && seriesFigures(theirs, sourceBytes);
  const result = {
    store: 'local',
    mode: 'incremental',
    backups: bench.backups,
    source_bytes: sourceBytes,
    ...figures,
    warm_up_bytes: warmUpBytes,
    first_seconds: round(ours[0]!.seconds),
    daemon_backup_seconds: ours.map((each) => round(each.daemonSeconds!)),
    daemon_second_speedup: speedup(ours.map((each) => each.daemonSeconds!)),
    pipeline_mbps: mbps(sourceBytes, scriptSeconds),
    first_ratio: Number((scriptSeconds / ours[0]!.seconds).toFixed(2)),
    changed_file_bytes: changes.map((each) => each.fileBytes),
    restore_mbps: mbps(restoredBytes, restoreSeconds),
    daemon_peak_rss_mb: Number((backupPeakRssKb / 1024).toFixed(1)),
    restore_peak_rss_mb: Number((restorePeakRssKb / 1024).toFixed(1)),
    ...(resticFigures && {
      restic_version: restic.version,
      ...prefixed('restic_', resticFigures),
      restic_restore_mbps: mbps(restoredBytes, resticRestoreSeconds),
    }),
  };
  const text = [
    `source ${megabytes(sourceBytes)}, ${bench.backups} backups into a local folder store (holding ${megabytes(warmUpBytes)} before)` +
      ` (the first: ours ${figures.first_mbps} MB/s against tar | zstd -3 -T2 | openssl enc ${result.pipeline_mbps} MB/s,` +
      ` ratio ${result.first_ratio}${resticFigures ? `; restic ${resticFigures.first_mbps} MB/s` : ''})`,
    ...ours.map((each, index) =>
      [
        `backup ${index + 1}: ${backupText(each)}`,
        ...(theirs[index] ? [`restic ${backupText(theirs[index])}`] : []),
        ...(index ? [`changed before it: ${describe(changes[index - 1]!)}`] : []),
      ].join(' | '),
    ),
    `second backup ${figures.second_speedup}× faster than the first (the daemon's spans: ${result.daemon_second_speedup}×)` +
      (resticFigures ? ` | restic ${resticFigures.second_speedup}×` : ''),
    [figures, resticFigures]
      .map((each, index) =>
        each
          ? `${index ? 'restic' : 'store'} after ${bench.backups} backups: ${megabytes(each.store_bytes_after_7)}, ` +
            `${each.store_ratio} × after the first`
          : '',
      )
      .filter(Boolean)
      .join(' | '),
    `restore of the newest backup (checked whole): ${result.restore_mbps} MB/s` +
      (result.restic_restore_mbps ? ` | restic restore ${result.restic_restore_mbps} MB/s` : ''),
    `daemon peak RSS ${result.daemon_peak_rss_mb} MB backing up, ${result.restore_peak_rss_mb} MB restoring`,
  ];
  return { text: text.join('\n'), result };
}

/** The figures of one tool's series (SPEC §7's names), and each backup's seconds and growth. */
function seriesFigures(backups: Backup[], sourceBytes: number) {
  const [first, second, last] = [backups[0]!, backups[1] ?? backups[0]!, backups.at(-1)!];
  return {
    first_mbps: mbps(sourceBytes, first.seconds),
    second_seconds: round(second.seconds),
    second_speedup: speedup(backups.map((each) => each.seconds)),
    second_stored_bytes: second.grewBy,
    store_bytes_after_7: last.storeBytes,
    full_bytes: first.storeBytes,
    store_ratio: Number((last.storeBytes / first.storeBytes).toFixed(2)),
    backup_seconds: backups.map((each) => round(each.seconds)),
    backup_stored_bytes: backups.map((each) => each.grewBy),
  };
}

/** The same figures, each name prefixed (restic's beside ours). */
function prefixed(prefix: string, figures: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(figures).map(([name, value]) => [prefix + name, value]));
}

const backupText = (each: Backup) =>
  `${round(each.seconds)} s${each.daemonSeconds === undefined ? '' : ` (the daemon's span ${round(each.daemonSeconds)} s)`}, +${megabytes(each.grewBy)}`;

/** restic's newest snapshot restored into a new folder, timed, and checked against the data's listing. */
async function restoreRestic(
  restic: Restic,
  bench: SeriesBench,
  expected: Map<string, TreeEntry>,
): Promise<number> {
  const target = path.join(bench.work, 'restic-restore');
  rmSync(target, { recursive: true, force: true });
  await bench.settle();
  const seconds = await restic.restoreLatest(target);
  const differences = treeDifferences(expected, listTree(path.join(target, bench.data)));
  rmSync(target, { recursive: true, force: true });
  if (differences.length)
    throw new Error(`restic restored another tree: ${differences.slice(0, 10).join(', ')}`);
  bench.log(`restic restore: ${round(seconds)} s`);
  return seconds;
}

/** What a restore of the data must give back: the listing, every other file's SHA-256, and each database's facts. */
interface DataFacts {
  listing: Map<string, TreeEntry>;
  digests: Map<string, string>;
  databases: Map<string, string>;
}

function dataFacts(folder: string): DataFacts {
  const listing = listTree(folder);
  const databases = new Map(
    Object.keys(SAMPLE_DATABASES).map((name) => [name, databaseFacts(path.join(folder, name))]),
  );
  const digests = new Map<string, string>();
  for (const [name, entry] of listing)
    if (
      typeof entry === 'number' &&
      !Object.keys(SAMPLE_DATABASES).some((database) => name.startsWith(database))
    )
      digests.set(name, fileDigest(path.join(folder, name)));
  return { listing, digests, databases };
}

/** `integrity_check`'s answer, and each table's rows: how many, and a SHA-256 of them in rowid order. */
function databaseFacts(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma('integrity_check', { simple: true }) as string;
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck()
      .all() as string[];
    const rows = tables.map((table) => {
      const hash = createHash('sha256');
      let count = 0;
      for (const row of db.prepare(`SELECT * FROM "${table}" ORDER BY rowid`).raw().iterate()) {
        hash.update(JSON.stringify(row));
        count += 1;
      }
      return `${table} ${count} rows ${hash.digest('hex').slice(0, 16)}`;
    });
    return [`integrity_check ${integrity}`, ...rows].join(', ');
  } finally {
    db.close();
  }
}

function fileDigest(file: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(4 * 1024 * 1024);
  const handle = openSync(file, 'r');
  try {
    for (let read; (read = readSync(handle, buffer)) > 0;) hash.update(buffer.subarray(0, read));
  } finally {
    closeSync(handle);
  }
  return hash.digest('hex');
}

/** What differs between the facts of the data backed up and of the data restored. */
function factDifferences(expected: DataFacts, actual: DataFacts): string[] {
  const listing = treeDifferences(expected.listing, actual.listing).map((name) => `${name} (listing)`);
  const contents = [...expected.digests]
    .filter(([name, digest]) => actual.digests.get(name) !== digest)
    .map(([name]) => `${name} (content)`);
  const databases = [...expected.databases]
    .filter(([name, facts]) => actual.databases.get(name) !== facts || !facts.includes('integrity_check ok'))
    .map(([name, facts]) => `${name}: ${actual.databases.get(name)} (expected ${facts})`);
  return [...listing, ...contents, ...databases].slice(0, 10);
}
