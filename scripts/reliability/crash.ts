/**
 * Scenario 1, crash anywhere: kill -9 of the daemon at random points of a backup, of retention (at
 * the end of a backup whose retention deletes older backups and, in format 4, repacks), of prune and
 * of a restore. After each kill the daemon restarts on the same state folder, and every committed backup
 * that retention has no right to delete must still be listed, pass Test-AzsBackup with the .pfx and
 * extract byte for byte; every listed backup must be one of those (no half-written backup listed);
 * a killed restore leaves each role's data either as it was or as the backup has it. It runs twice:
 * with format 3 backups, and with the daemon writing format 4 (the deduplicating repository).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import {
  AUTHENTICATED_FORMAT_VERSION,
  MANIFEST_FILE_NAME,
  REPOSITORY_FORMAT_VERSION,
} from '../../src/archive/manifest.js';
import { PACK_SUFFIX, REPOSITORY_ROOT } from '../../src/repository/layout.js';
import { Successions, readRepackRecords } from '../../src/repository/repacks.js';
import { LocalFolderStore } from '../../src/storage/localStore.js';
import { applyRetention } from '../../src/engine/retention.js';
import { isProcessAlive } from '../../src/util/platform.js';
import type { CallParams, CallableName } from '../../src/daemon/client.js';
import type { TestDaemon } from '../../test/helpers/daemon.js';
import { PFX_PASSWORD, type Deployment } from '../../test/helpers/deployment.js';
import {
  backupFolderOnDisk,
  Cleanup,
  digestsOf,
  filesBelow,
  directoryRole,
  errorMessage,
  listedIds,
  random,
  sleep,
  sqliteRole,
  Tally,
  verifyCommitted,
  within,
  type Committed,
  type RoleCheck,
  type SuiteOptions,
  type VerifyTarget,
  startDeployment,
} from './common.js';

const RETENTION_DAYS = 2;
/** The clock moves this far before each operation, so retention always has something to delete. */
const HOURS_BETWEEN_OPERATIONS = 12;
const OPERATIONS = ['backup', 'retention', 'prune', 'restore'] as const;
type Operation = (typeof OPERATIONS)[number];

/** What the two runs of the scenario differ in. */
interface CrashFormat {
  /** The scenario's name in `--only` and in the log. */
  name: string;
  title: string;
  /** The FormatVersion every committed backup's manifest must have. */
  version: number;
  /** More environment for the daemon. */
  env: Record<string, string>;
  /**
   * Rewrite most of the Directory role's bulk data before each operation, so that each backup adds
   * chunks and retention leaves packs dead (deleted) or mostly dead (repacked) (format 4; format 3
   * runs as it always did).
   */
  churn: boolean;
}

const FORMAT_3: CrashFormat = {
  name: 'crash',
  title: '1. kill -9 anywhere',
  version: AUTHENTICATED_FORMAT_VERSION,
  env: {},
  churn: false,
};
const FORMAT_4: CrashFormat = {
  name: 'crash4',
  title: '1b. kill -9 anywhere, format 4',
  version: REPOSITORY_FORMAT_VERSION,
  env: { AZSBACKUP_FORMAT: String(REPOSITORY_FORMAT_VERSION) },
  churn: true,
};

const BULK_BYTES = 24 * 1024 * 1024;
/**
 * The bulk data is rewritten in runs this long, 60 % of the runs chosen at random before each
 * operation with churn: a pack written before it then keeps less than half of its bytes in use
 * once retention deletes its backup, so it is repacked (src/repository/repack.ts).
 */
const CHURN_RUN_BYTES = 256 * 1024;
const CHURN_RUNS = Math.round((0.6 * BULK_BYTES) / CHURN_RUN_BYTES);

interface Durations {
  backup: number;
  retention: number;
  prune: number;
  restore: number;
}

class CrashRun {
  readonly committed: Committed[] = [];
  readonly roles: RoleCheck[];
  readonly target: VerifyTarget;
  readonly leftovers: string[] = [];
  /** Each kill so far: the operation and when. */
  readonly kills: string[] = [];

  constructor(
    readonly daemon: TestDaemon,
    readonly deployment: Deployment,
    readonly tally: Tally,
    readonly options: SuiteOptions,
    readonly format: CrashFormat,
  ) {
    this.roles = [
      directoryRole('CA', deployment.folder),
      sqliteRole('WAS', deployment.database),
      directoryRole('ECE', deployment.scripted),
    ];
    this.target = { daemon, pfxPath: deployment.pfxPath, storeFolder: deployment.store, roles: this.roles };
  }

  /** A backup run to its end (no kill): committed when it succeeds. */
  async backupToEnd(): Promise<number> {
    this.churn();
    const digests = await digestsOf(this.roles);
    const started = Date.now();
    const backup = await within(this.daemon.call('backup.start', { Wait: true }), 300_000, 'backup');
    const elapsed = Date.now() - started;
    if (this.tally.check(backup.Status === 'Succeeded', `backup ${backup.BackupId} ended ${backup.Status}`))
      this.commit({ backupId: backup.BackupId, created: backup.CreatedDateTime, ready: true, digests });
    return elapsed;
  }

  commit(backup: Committed): void {
    const version = formatOf(this.deployment.store, backup.backupId);
    this.tally.check(
      version === this.format.version,
      `backup ${backup.backupId} was written in format ${version}, not ${this.format.version}`,
    );
    this.committed.push(backup);
    this.tally.committed += 1;
  }

  /** CHURN_RUNS runs of the bulk data, chosen at random, rewritten in place with new bytes. */
  churn(): void {
    if (!this.format.churn) return;
    const runs = Array.from({ length: BULK_BYTES / CHURN_RUN_BYTES }, (_, run) => run);
    const file = openSync(path.join(this.deployment.folder, 'bulk.bin'), 'r+');
    try {
      for (let chosen = 0; chosen < CHURN_RUNS; chosen += 1) {
        const [run] = runs.splice(Math.floor(random(0, runs.length)), 1);
        writeSync(file, randomBytes(CHURN_RUN_BYTES), 0, CHURN_RUN_BYTES, run! * CHURN_RUN_BYTES);
      }
    } finally {
      closeSync(file);
    }
  }

  async measure(): Promise<Durations> {
    const backup = await this.backupToEnd();
    await this.beforeRetention();
    const retention = await this.backupToEnd();
    makeOrphans(this.deployment.store, 40);
    let started = Date.now();
    await this.daemon.call('store.prune', { DryRun: false });
    const prune = Date.now() - started;
    started = Date.now();
    await this.daemon.call('backup.restore', {
      Name: this.committed.at(-1)!.backupId,
      DecryptionCertPath: this.deployment.pfxPath,
      DecryptionCertPassword: PFX_PASSWORD,
      Wait: true,
    });
    const restore = Date.now() - started;
    return { backup, retention, prune, restore };
  }

  /**
   * Sets up a retention that deletes and repacks: most backups here are killed, so a backup is
   * run to its end half a retention period before the next one. That next backup's retention keeps
   * it and deletes every backup before it, whose packs it still uses a little of (the churn between
   * them): those packs are left mostly dead, and are repacked (src/repository/repack.ts).
   */
  async beforeRetention(): Promise<void> {
    await this.advance(RETENTION_DAYS * 12 + 1);
    await this.backupToEnd();
    await this.advance(RETENTION_DAYS * 12);
  }

  async advance(hours: number): Promise<Date> {
    return new Date((await this.daemon.call('test.advanceClock', { Hours: hours })).now);
  }

  /** Starts the operation, waits a random part of its typical duration, and kills the daemon. */
  async crashDuring(operation: Operation, durations: Durations, point: number): Promise<void> {
    if (operation === 'retention') await this.beforeRetention();
    else await this.advance(HOURS_BETWEEN_OPERATIONS);
    if (operation === 'restore')
      writeFileSync(path.join(this.deployment.folder, `changed-after-backup-${point}.txt`), randomBytes(64));
    this.churn();
    const before = await digestsOf(this.roles);
    const started = await this.start(operation);
    const delay =
      operation === 'retention'
        ? random(0.6, 1.1) * durations.retention
        : random(0, 1) * durations[operation];
    await sleep(delay);
    await this.kill();
    this.tally.injected += 1;
    const after = `${Math.round(delay)} ms`;
    this.kills.push(`${operation} ${after}`);
    this.options.log(`${this.format.name}: ${operation} killed after ${after} (point ${point + 1})`);
    await this.restart();
    if (started.backupId) await this.adoptIfListed(started.backupId, before);
    if (started.restoring) await this.checkRestoredRoles(before, started.restoring);
    await this.checkStore();
  }

  private async start(operation: Operation): Promise<{ backupId?: string; restoring?: Committed }> {
    switch (operation) {
      case 'backup':
      case 'retention':
        return { backupId: (await this.daemon.call('backup.start', { Wait: false })).BackupId };
      case 'prune':
        makeOrphans(this.deployment.store, 40);
        await this.send('store.prune', { DryRun: false });
        return {};
      case 'restore': {
        const restoring = this.committed.at(-1)!;
        await this.send('backup.restore', {
          Name: restoring.backupId,
          DecryptionCertPath: this.deployment.pfxPath,
          DecryptionCertPassword: PFX_PASSWORD,
          Wait: false,
        });
        return { restoring };
      }
    }
  }

  /**
   * Sends a call on a connection already open to this daemon, without waiting for its answer. A call
   * still connecting when the daemon is killed would reach the restarted one (restart() blocks this
   * process until the new daemon answers, and the connection is made after it) and run there.
   */
  private async send<M extends CallableName>(method: M, params: CallParams<M>): Promise<void> {
    const client = await this.daemon.connect();
    client
      .call(method, params)
      .catch(() => undefined)
      .finally(() => client.close());
  }

  private async kill(): Promise<void> {
    const pid = this.daemon.pid;
    process.kill(pid, 'SIGKILL');
    while (isProcessAlive(pid)) await sleep(10);
  }

  private async restart(): Promise<void> {
    try {
      this.daemon.restart();
      await within(this.daemon.call('daemon.status', {}), 30_000, 'daemon.status');
    } catch (error) {
      this.tally.fail(`the daemon did not come back on its state folder: ${errorMessage(error)}`);
      throw error;
    }
  }

  /** A backup the kill came too late to stop is listed: it must then be whole, and is committed. */
  private async adoptIfListed(backupId: string, digests: Committed['digests']): Promise<void> {
    const listed = (await this.daemon.call('backup.list', { Name: backupId })).backups[0];
    if (!listed) return;
    const backup = { backupId, created: listed.CreatedDateTime, ready: listed.IsCloudRecoveryReady, digests };
    const problem = await verifyCommitted(this.target, backup);
    if (problem) this.tally.lose(`a backup listed after a kill is not whole: ${problem}`);
    else this.commit(backup);
  }

  /** Each role's data after a killed restore: as it was before, or as the backup has it. */
  private async checkRestoredRoles(before: Committed['digests'], restoring: Committed): Promise<void> {
    const after = await digestsOf(this.roles).catch(() => ({}) as Committed['digests']);
    for (const role of this.roles) {
      const now = after[role.name];
      if (now !== before[role.name] && now !== restoring.digests[role.name])
        this.tally.lose(`role ${role.name} is neither its old data nor the backup's after a killed restore`);
    }
    const beside = readdirSync(path.dirname(this.deployment.folder)).filter((name) =>
      /\.(restore|old|removing)-[0-9a-f]{12}$/.test(name),
    );
    this.leftovers.push(...beside);
  }

  /** Every listed backup is committed, every committed one retention keeps is listed and whole. */
  async checkStore(): Promise<void> {
    const listed = new Set(await listedIds(this.daemon));
    const known = new Set(this.committed.map((backup) => backup.backupId));
    for (const id of listed)
      if (!known.has(id)) this.tally.lose(`backup ${id} is listed but was never committed (half-written?)`);
    const now = await this.advance(0);
    const removable = new Set(
      applyRetention(
        this.committed.map((backup) => ({
          BackupId: backup.backupId,
          CreatedDateTime: backup.created,
          IsCloudRecoveryReady: backup.ready,
        })),
        RETENTION_DAYS,
        now,
      ).remove.map(({ backup }) => backup.BackupId),
    );
    for (const backup of [...this.committed]) {
      if (!listed.has(backup.backupId)) {
        if (!removable.has(backup.backupId))
          this.tally.lose(`committed backup ${backup.backupId} is gone, and retention keeps it`);
        this.committed.splice(this.committed.indexOf(backup), 1);
        continue;
      }
      const problem = await verifyCommitted(this.target, backup);
      if (problem) this.tally.lose(`${problem}${this.evidence(problem)}`);
      else this.tally.verified += 1;
    }
  }

  /**
   * For a pack a lost backup needs: what the daemon logged of it (daemon.log outlives restarts),
   * so that a loss the random kill points make once says which step removed the pack.
   */
  private evidence(problem: string): string {
    const pack = /packs\/([0-9a-f]{64})\.pack/.exec(problem)?.[1];
    if (!pack) return '';
    const lines = this.daemonLog().filter((line) => line.includes(pack));
    return ` [daemon.log on ${pack.slice(0, 12)}: ${lines.length ? lines.join(' | ') : 'nothing'}; kills so far: ${this.kills.join(', ')}]`;
  }

  /** The daemon's log lines so far: daemon.log outlives the restarts. */
  private daemonLog(): string[] {
    const logs = path.join(this.daemon.stateDir, 'logs');
    return readdirSync(logs).flatMap((file) => readFileSync(path.join(logs, file), 'utf8').split('\n'));
  }

  /**
   * The repository after all the kills (format 4): a prune run to its end leaves exactly the packs
   * the listed backups refer to, and every committed backup still verifies after it.
   */
  async pruneToEnd(): Promise<void> {
    const root = path.join(this.deployment.store, REPOSITORY_ROOT);
    const before = packsIn(root).size;
    await within(this.daemon.call('store.prune', { DryRun: false }), 120_000, 'store.prune');
    const stored = packsIn(root);
    const listed = new Map<string, string[]>();
    for (const id of await listedIds(this.daemon)) {
      const manifest = manifestOf(this.deployment.store, id);
      const epoch = manifest?.Encryption?.Epoch;
      if (!epoch) continue;
      for (const role of manifest.Roles ?? [])
        listed.set(epoch, [...(listed.get(epoch) ?? []), ...(role.Content?.Packs ?? [])]);
    }
    // A repacked pack's blobs are in the packs its repack record names (docs/format.md, "Repacking").
    const referred = new Set<string>();
    for (const [epoch, packs] of listed) {
      const { records } = await readRepackRecords(new LocalFolderStore(this.deployment.store), epoch);
      for (const pack of new Successions(records).reach(packs)) referred.add(pack);
    }
    const unreferred = [...stored].filter((pack) => !referred.has(pack));
    this.tally.check(
      !unreferred.length,
      `prune left ${unreferred.length} pack(s) no listed backup refers to (directly or through a repack record)`,
    );
    const log = this.daemonLog();
    const logged = (message: string) => log.filter((line) => line.includes(message)).length;
    const deleted = logged('backup deleted by retention');
    const repacked = logged('pack repacked after retention');
    this.options.log(
      `${this.format.name}: repository: ${before} packs after the kills, ${stored.size} after a prune to the end, ${referred.size} referred to;` +
        ` retention deleted ${deleted} backup(s) and repacked ${repacked} pack(s) in all`,
    );
    await this.checkStore();
  }
}

interface StoredManifest {
  FormatVersion?: number;
  Encryption?: { Epoch?: string };
  Roles?: Array<{ Content?: { Packs?: string[] } }>;
}

/** A listed backup's manifest as it is on the store (a local folder here), or null. */
function manifestOf(store: string, backupId: string): StoredManifest | null {
  const folder = backupFolderOnDisk(store, backupId);
  if (!folder) return null;
  return JSON.parse(readFileSync(path.join(folder, MANIFEST_FILE_NAME), 'utf8')) as StoredManifest;
}

function formatOf(store: string, backupId: string): number | undefined {
  return manifestOf(store, backupId)?.FormatVersion;
}

/** The names (SHA-256) of the pack files under the repository's root, every epoch. */
function packsIn(root: string): Set<string> {
  return new Set(
    filesBelow(root)
      .map((file) => path.basename(file))
      .filter((name) => name.endsWith(PACK_SUFFIX))
      .map((name) => name.slice(0, -PACK_SUFFIX.length)),
  );
}

/** What killed jobs leave behind: folders without a manifest, and a temporary upload file. */
function makeOrphans(store: string, files: number): void {
  const folder = path.join(store, 'MASBackup', '20200101T000000Z', randomUUID(), 'CA');
  mkdirSync(folder, { recursive: true });
  for (let index = 0; index < files; index += 1)
    writeFileSync(path.join(folder, `part-${index}.azsb.partial-${index}`), randomBytes(4096));
}

export function crashAnywhere(options: SuiteOptions): Promise<Tally> {
  return crashIn(FORMAT_3, options);
}

/** The same, with the daemon writing format 4 (AZSBACKUP_FORMAT=4): kills in the repository's writes and prunes. */
export function crashAnywhereFormat4(options: SuiteOptions): Promise<Tally> {
  return crashIn(FORMAT_4, options);
}

async function crashIn(format: CrashFormat, options: SuiteOptions): Promise<Tally> {
  const tally = new Tally(format.title);
  const cleanup = new Cleanup();
  const points = options.short ? 12 : 32;
  try {
    const { daemon, deployment } = await startDeployment(cleanup, { testHooks: true, env: format.env });
    // Enough incompressible data that the upload, not pwsh's start, is most of a backup.
    writeFileSync(path.join(deployment.folder, 'bulk.bin'), randomBytes(BULK_BYTES));
    await daemon.call('config.set', {
      BackupRetentionPeriodInDays: RETENTION_DAYS,
      IsBackupSchedulerEnabled: false,
    });
    const run = new CrashRun(daemon, deployment, tally, options, format);
    const durations = await run.measure();
    options.log(`${format.name}: typical durations (ms) ${JSON.stringify(durations)}`);
    await run.checkStore();
    for (let point = 0; point < points; point += 1) {
      tally.runs += 1;
      await run.crashDuring(OPERATIONS[point % OPERATIONS.length]!, durations, point);
    }
    if (format.version === REPOSITORY_FORMAT_VERSION) await run.pruneToEnd();
    if (run.leftovers.length)
      options.log(
        `${format.name}: restore left ${run.leftovers.length} sibling folder(s): ${run.leftovers.join(', ')}`,
      );
  } catch (error) {
    tally.fail(`scenario stopped: ${errorMessage(error)}`);
  } finally {
    await cleanup.run();
  }
  return tally;
}
