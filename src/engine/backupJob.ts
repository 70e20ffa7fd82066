/**
 * The backup job: every registered role snapshotted, compressed and encrypted into the store under
 * one fresh key, each stored file read back and checked, and the manifest written last — so a backup
 * is visible only once complete and verified. A role that fails is recorded (PartialSucceeded); a
 * store that fails ends the job and leaves earlier backups untouched.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ArchiveEntry } from '../archive/entry.js';
import {
  FORMAT_VERSION,
  MAX_CHANGED_LISTED,
  authenticateManifest,
  fileIdOf,
  serializeManifest,
  type BackupManifest,
  type UnsealedManifest,
} from '../archive/manifest.js';
import { BLOCK_SIZE, compareReadBack, writeRoleArchive } from '../archive/index.js';
import { generateBackupKey, wrapKey } from '../crypto/keyWrap.js';
import { AzsError, isAzsError } from '../protocol/errors.js';
import type { ProgressNotification } from '../protocol/jsonrpc.js';
import type { Backup, BackupRecord, Role, RoleMeasure, RoleStatus } from '../protocol/objects.js';
import { nothingStoredWarning, providerFor } from '../roles/index.js';
import type { JobHistory, JobInput, JobRecord } from '../state/jobHistory.js';
import type { ManifestLedger } from '../state/manifestLedger.js';
import { type RoleSeconds, RoleTimings } from '../state/roleTimings.js';
import type { SavedCertificate, StateDir } from '../state/stateDir.js';
import type { BackupStore } from '../storage/store.js';
import type { Clock } from '../util/clock.js';
import { formatIsoDuration } from '../util/format.js';
import type { Logger } from '../util/log.js';
import { storeSettingsOf, withStore } from './configuration.js';
import type { ExclusiveJobs } from './exclusive.js';
import { asResource } from './catalog.js';
import { removeIfEmpty } from './housekeeping.js';
import { MANIFEST_NAME, backupFolder, roleFile } from './layout.js';
import { nextTimings, startOrder } from './roleOrder.js';
import type { RoleService } from './roles.js';

export const STAMP_VERSION = '0.1.0';
export const BACKUP_DATA_VERSION = '1.0.0';
/** Roles backed up at once: enough to overlap one role's file I/O with the others' compression. */
const ROLE_PARALLELISM = 3;
const PROGRESS_INTERVAL_MS = 500;

export type ProgressSink = (update: Omit<ProgressNotification, 'requestId'>) => void;

export interface BackupRequest {
  isAutomatic: boolean;
  progress?: ProgressSink;
  /** Aborting cancels the job (the waiting client went away). */
  signal?: AbortSignal;
}

interface RoleOutcome {
  status: RoleStatus;
  files: BackupManifest['Roles'][number]['Files'];
  entries: number;
  sourceBytes: number;
  changedDuringCopy: string[];
  /** How long the role took, when it was stored. */
  seconds: number | null;
}

export interface BackupServiceDeps {
  state: StateDir;
  clock: Clock;
  log: Logger;
  roles: RoleService;
  history: JobHistory;
  jobs: ExclusiveJobs;
  /** Where each manifest written is recorded, before the job reports success. */
  ledger: ManifestLedger;
  /** Called after every backup that ends, successful or not (alerts, retention, schedule). */
  onFinished?: (job: JobRecord, error: AzsError | null) => Promise<void>;
}

export class BackupService {
  private running: BackupRecord | null = null;
  private readonly timings: RoleTimings;

  constructor(private readonly deps: BackupServiceDeps) {
    this.timings = new RoleTimings(deps.state);
  }

  /**
   * Starts a backup. Returns the Running backup at once and a promise of the finished one, which
   * rejects with an AzsError when the job fails as a whole.
   */
  async start(request: BackupRequest): Promise<{ backup: Backup; done: Promise<Backup> }> {
    const { state, clock, jobs } = this.deps;
    const config = await state.readConfig();
    const settings = await storeSettingsOf(state, config);
    if (!settings)
      throw new AzsError(
        'NotConfigured',
        'No backup store is configured. Run Set-AzsBackupConfiguration -Path <share or folder> first.',
        { parameter: 'Path' },
      );
    const certificate = this.usableCertificate(config.certificate);
    const roles = await this.deps.roles.list();
    if (!roles.length)
      throw new AzsError(
        'NotConfigured',
        'No infrastructure roles are registered. Register them with Register-AzsInfrastructureRole first.',
      );
    const backupId = randomUUID();
    const claim = jobs.claim('Backup', backupId);
    const created = clock.now();
    const backup = this.initialBackup(backupId, created, certificate.thumbprint, request.isAutomatic, roles);
    this.running = backup;
    const job: JobInput = {
      JobId: backupId,
      Kind: 'Backup',
      BackupId: backupId,
      IsAutomatic: request.isAutomatic,
      StartTime: created.toISOString(),
      EndTime: null,
      Outcome: 'Running',
      ErrorMessage: null,
      Roles: backup.RoleStatus,
    };
    const signal = request.signal
      ? AbortSignal.any([request.signal, claim.abort.signal])
      : claim.abort.signal;
    const done = this.deps.history
      .save(job)
      .then(() =>
        withStore(settings, (store) =>
          this.run({ store, path: settings.path }, backup, roles, certificate, signal, request.progress),
        ),
      )
      .then(
        ({ record, measures }) => this.finish(job, record, null, measures),
        (error: unknown) => {
          const failure = asAzsError(error);
          return this.finish(job, failedBackup(backup, failure), failure, []);
        },
      )
      .finally(() => {
        this.running = null;
        jobs.release(claim);
      });
    done.catch(() => undefined);
    return { backup: asResource(backup), done };
  }

  private usableCertificate(certificate: SavedCertificate | null): SavedCertificate {
    if (!certificate) {
      throw new AzsError(
        'NotConfigured',
        'No encryption certificate is configured. Run Set-AzsBackupConfiguration -EncryptionCertPath <.cer> first.',
        {
          parameter: 'EncryptionCertPath',
        },
      );
    }
    if (Date.parse(certificate.notAfter) <= this.deps.clock.now().getTime()) {
      throw new AzsError(
        'CertificateExpired',
        `The encryption certificate ${certificate.thumbprint} expired on ${certificate.notAfter}; backups are refused until a new one is set. Create one with New-AzsBackupEncryptionCertificate and set it with Set-AzsBackupConfiguration -EncryptionCertPath.`,
        { target: certificate.thumbprint },
      );
    }
    return certificate;
  }

  private initialBackup(
    backupId: string,
    created: Date,
    thumbprint: string,
    isAutomatic: boolean,
    roles: Role[],
  ): BackupRecord {
    const { identity } = this.deps.state;
    return {
      BackupId: backupId,
      Name: `${identity.Location}/${backupId}`,
      Status: 'Running',
      RoleStatus: roles.map((role) => ({ RoleName: role.Name, Status: 'Queued', ErrorMessage: null })),
      CreatedDateTime: created.toISOString(),
      TimeTakenToCreate: null,
      BackupDataVersion: BACKUP_DATA_VERSION,
      DeploymentId: identity.DeploymentId,
      StampVersion: STAMP_VERSION,
      IsCloudRecoveryReady: false,
      EncryptionCertThumbprint: thumbprint,
      BackupSizeInKb: 0,
      CompressedBackupSizeInKb: 0,
      IsAutomaticBackup: isAutomatic,
      CompletelyUploaded: false,
    };
  }

  private async run(
    { store, path: storePath }: { store: BackupStore; path: string },
    backup: BackupRecord,
    roles: Role[],
    certificate: SavedCertificate,
    signal: AbortSignal,
    progress: ProgressSink = () => undefined,
  ): Promise<{ record: BackupRecord; measures: RoleMeasure[] }> {
    const created = new Date(backup.CreatedDateTime);
    const folder = backupFolder(created, backup.BackupId);
    const key = generateBackupKey();
    try {
      await store.checkRoot();
      await store.mkdir(folder);
      const tracker = new ProgressTracker(roles, progress);
      const lastSeconds = await this.timings.read();
      const outcomes = await mapLimited(
        roles,
        startOrder(roles, lastSeconds),
        ROLE_PARALLELISM,
        (role, index) =>
          this.backupRole(store, storePath, folder, role, key, signal, (status, bytes) => {
            backup.RoleStatus[index] = status;
            tracker.update(role.Name, status, bytes);
          }),
      );
      signal.throwIfAborted();
      const finished = this.completed(backup, outcomes);
      if (finished.Status === 'Failed') {
        throw new AzsError(
          'BackupFailed',
          `Every role failed: ${outcomes.map((outcome) => `${outcome.status.RoleName}: ${outcome.status.ErrorMessage}`).join('; ')}`,
          {
            target: backup.BackupId,
          },
        );
      }
      const manifest = this.manifestOf(finished, roles, outcomes, certificate, wrapKey(key, certificate.pem));
      const manifestBytes = Buffer.from(serializeManifest(authenticateManifest(manifest, key)), 'utf8');
      await store.writeFile(`${folder}/${MANIFEST_NAME}`, Readable.from([manifestBytes]));
      // A backup whose manifest the ledger does not know is not this deployment's: if the record
      // cannot be written, the job fails and its folder goes (below).
      await this.deps.ledger.record({
        BackupId: backup.BackupId,
        Folder: folder,
        CreatedDateTime: backup.CreatedDateTime,
        ManifestSha256: createHash('sha256').update(manifestBytes).digest('hex'),
      });
      await this.rememberTimings(roles, lastSeconds, outcomes);
      return { record: finished, measures: measuresOf(outcomes) };
    } catch (error) {
      await store.remove(folder).catch(() => undefined);
      await removeIfEmpty(store, folder.slice(0, folder.lastIndexOf('/')));
      throw signal.aborted && !isAzsError(error)
        ? new AzsError('JobCancelled', `Backup ${backup.BackupId} was cancelled; nothing of it was kept.`)
        : error;
    } finally {
      key.fill(0);
    }
  }

  /** Keeps the roles' durations for the next backup's order; losing them only costs that order. */
  private async rememberTimings(roles: Role[], lastSeconds: RoleSeconds, outcomes: RoleOutcome[]) {
    const timings = nextTimings(
      roles,
      lastSeconds,
      outcomes.map((outcome) => outcome.seconds),
    );
    await this.timings
      .save(timings)
      .catch((error: unknown) => this.deps.log.warn('role timings not saved', { error: String(error) }));
  }

  private async backupRole(
    store: BackupStore,
    storePath: string,
    folder: string,
    role: Role,
    key: Buffer,
    signal: AbortSignal,
    report: (status: RoleStatus, sourceBytes: number) => void,
  ): Promise<RoleOutcome> {
    const stagingDir = this.deps.state.stagingFor(path.basename(folder), role.Name);
    await mkdir(stagingDir, { recursive: true, mode: 0o700 });
    const relative = roleFile(role.Name);
    let sourceBytes = 0;
    report({ RoleName: role.Name, Status: 'Running', ErrorMessage: null }, 0);
    const started = Date.now();
    try {
      signal.throwIfAborted();
      await this.deps.roles.checkPlacement(role, storePath);
      const entries = countBytes(
        asRoleFailures(role, providerFor(role.Provider).snapshot(role, { stagingDir, signal })),
        (bytes) => {
          sourceBytes += bytes;
          report({ RoleName: role.Name, Status: 'Running', ErrorMessage: null }, sourceBytes);
        },
      );
      const fileId = fileIdOf(path.basename(folder), role.Name);
      const archive = writeRoleArchive(entries, { key, fileId, signal });
      await store.mkdir(`${folder}/${role.Name}`);
      const summary = await settleUpload(
        store.writeFile(`${folder}/${relative}`, archive.stream),
        archive.summary,
      );
      const uploadedAt = Date.now();
      const readBack = compareReadBack(await store.digest(`${folder}/${relative}`), {
        size: summary.storedBytes,
        crc32: summary.crc32,
      });
      this.deps.log.info('role backed up', {
        backupId: path.basename(folder),
        role: role.Name,
        entries: summary.entries,
        sourceBytes: summary.sourceBytes,
        storedBytes: summary.storedBytes,
        uploadSeconds: (uploadedAt - started) / 1000,
        verifySeconds: (Date.now() - uploadedAt) / 1000,
      });
      if ('problem' in readBack)
        throw new AzsError(
          'StoreFault',
          `The stored copy of role ${role.Name} does not match what was written: ${readBack.problem}`,
        );
      const status: RoleStatus = {
        RoleName: role.Name,
        Status: 'Succeeded',
        ErrorMessage: summary.entries ? null : nothingStoredWarning(role),
      };
      report(status, summary.sourceBytes);
      return {
        status,
        files: [
          {
            Path: relative,
            Size: summary.storedBytes,
            Sha256: readBack.sha256,
            FileId: fileId,
          },
        ],
        entries: summary.entries,
        sourceBytes: summary.sourceBytes,
        changedDuringCopy: summary.changedDuringCopy,
        seconds: (Date.now() - started) / 1000,
      };
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      const status: RoleStatus = { RoleName: role.Name, Status: 'Failed', ErrorMessage: message };
      // The job ends here: the role is recorded as failed with it, never left Running.
      report(status, sourceBytes);
      if (isStoreFailure(error) || signal.aborted) throw error;
      this.deps.log.warn('role backup failed', { role: role.Name, error: message });
      await store.remove(`${folder}/${role.Name}`).catch(() => undefined);
      return { status, files: [], entries: 0, sourceBytes: 0, changedDuringCopy: [], seconds: null };
    } finally {
      await rm(stagingDir, { recursive: true, force: true });
    }
  }

  private completed(backup: BackupRecord, outcomes: RoleOutcome[]): BackupRecord {
    const succeeded = outcomes.filter((outcome) => outcome.status.Status === 'Succeeded').length;
    const status =
      succeeded === outcomes.length ? 'Succeeded' : succeeded === 0 ? 'Failed' : 'PartialSucceeded';
    const sourceBytes = sum(outcomes.map((outcome) => outcome.sourceBytes));
    const storedBytes = sum(outcomes.flatMap((outcome) => outcome.files.map((file) => file.Size)));
    return {
      ...backup,
      Status: status,
      RoleStatus: outcomes.map((outcome) => outcome.status),
      TimeTakenToCreate: formatIsoDuration(
        this.deps.clock.now().getTime() - Date.parse(backup.CreatedDateTime),
      ),
      IsCloudRecoveryReady: status === 'Succeeded',
      BackupSizeInKb: Math.ceil(sourceBytes / 1024),
      CompressedBackupSizeInKb: Math.ceil(storedBytes / 1024),
      CompletelyUploaded: true,
    };
  }

  private manifestOf(
    backup: BackupRecord,
    roles: Role[],
    outcomes: RoleOutcome[],
    certificate: SavedCertificate,
    wrappedKey: string,
  ): UnsealedManifest {
    return {
      ...backup,
      FormatVersion: FORMAT_VERSION,
      Location: this.deps.state.identity.Location,
      Encryption: {
        Algorithm: 'AES-256-GCM',
        KeyWrap: 'RSA-OAEP-SHA256',
        WrappedKey: wrappedKey,
        CertificateThumbprint: certificate.thumbprint,
        BlockSize: BLOCK_SIZE,
      },
      Compression: 'zstd',
      Roles: roles.map((role, index) => ({
        Registration: role,
        Files: outcomes[index]!.files,
        Entries: outcomes[index]!.entries,
        SourceBytes: outcomes[index]!.sourceBytes,
        ChangedDuringCopy: outcomes[index]!.changedDuringCopy.slice(0, MAX_CHANGED_LISTED),
        ChangedDuringCopyCount: outcomes[index]!.changedDuringCopy.length,
      })),
    };
  }

  private async finish(
    job: JobInput,
    backup: BackupRecord,
    error: AzsError | null,
    measures: RoleMeasure[],
  ): Promise<Backup> {
    const finished: JobRecord = {
      ...job,
      EndTime: this.deps.clock.now().toISOString(),
      Outcome: error
        ? error.reason === 'JobCancelled'
          ? 'Cancelled'
          : 'Failed'
        : (backup.Status as JobRecord['Outcome']),
      ErrorMessage: error?.message ?? null,
      Roles: backup.RoleStatus,
      SourceBytes: measures.length ? sum(measures.map((measure) => measure.SourceBytes)) : null,
      StoredBytes: measures.length ? sum(measures.map((measure) => measure.StoredBytes)) : null,
      RoleMeasures: measures,
    };
    await this.deps.history.save(finished);
    // A failed role is a failure for the log's reader too, not a success to skim over.
    const level = finished.Outcome === 'Succeeded' ? 'info' : 'warn';
    this.deps.log[level]('backup finished', {
      backupId: job.BackupId,
      outcome: finished.Outcome,
      error: finished.ErrorMessage,
    });
    await this.deps
      .onFinished?.(finished, error)
      .catch((hookError: unknown) =>
        this.deps.log.error('post-backup step failed', { backupId: job.BackupId, error: String(hookError) }),
      );
    if (error) throw error;
    return asResource(backup);
  }

  /** A listing entry for the running backup, if any, for Get-AzsBackup. */
  runningAsBackup(): Backup | null {
    return this.running ? asResource({ ...this.running, RoleStatus: [...this.running.RoleStatus] }) : null;
  }
}

/** Each stored role's sizes and duration, for the job record (metrics, the report). */
function measuresOf(outcomes: RoleOutcome[]): RoleMeasure[] {
  return outcomes
    .filter((outcome) => outcome.status.Status === 'Succeeded')
    .map((outcome) => ({
      RoleName: outcome.status.RoleName,
      SourceBytes: outcome.sourceBytes,
      StoredBytes: sum(outcome.files.map((file) => file.Size)),
      DurationSeconds: outcome.seconds,
    }));
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

const STORE_REASONS = new Set([
  'PathNotFound',
  'ShareUnreachable',
  'AuthenticationFailed',
  'StoreFull',
  'StoreAccessDenied',
  'StoreFault',
  'StorePathUnsafe',
]);

/** Store failures end the whole job (no role can succeed); anything else is that role's failure. */
function isStoreFailure(error: unknown): boolean {
  return error instanceof AzsError && STORE_REASONS.has(error.reason);
}

/**
 * The backup as a job that failed as a whole records it: a role still Running (the store failed
 * under it, or under a role beside it) failed with the job.
 */
function failedBackup(backup: BackupRecord, error: AzsError): BackupRecord {
  return {
    ...backup,
    Status: 'Failed',
    RoleStatus: backup.RoleStatus.map((role) =>
      role.Status === 'Running' ? { ...role, Status: 'Failed', ErrorMessage: error.message } : role,
    ),
  };
}

/** A role's own failure: an AzsError that is not the store's (RoleFailed, BackupCorrupt …). */
function isRoleFailure(error: unknown): boolean {
  return error instanceof AzsError && !isStoreFailure(error) && error.reason !== 'JobCancelled';
}

/**
 * The provider's entries, its failures made the role's: an error without a reason of its own (an
 * errno from a file, a SQLite error) becomes RoleFailed before the archive and the store see it, so
 * it can never be taken for the store's.
 */
async function* asRoleFailures(
  role: Role,
  entries: AsyncIterable<ArchiveEntry>,
): AsyncIterable<ArchiveEntry> {
  try {
    yield* entries;
  } catch (error) {
    if (error instanceof AzsError) throw error;
    throw new AzsError('RoleFailed', `Role '${role.Name}': ${(error as Error)?.message ?? error}`, {
      target: role.Name,
      cause: error,
    });
  }
}

function asAzsError(error: unknown): AzsError {
  if (error instanceof AzsError) return error;
  return new AzsError('BackupFailed', `The backup failed: ${(error as Error)?.message ?? error}`, {
    cause: error,
  });
}

/**
 * Waits for both sides of an upload. The role's own failure (an AzsError of the source, such as a
 * file it cannot read) wins: a store may report the source's error as its own, since a failing
 * source breaks its sink. Otherwise a store failure wins over the source's (a full share also breaks
 * the source stream, and the store's error is the one that says what happened).
 */
async function settleUpload<T>(upload: Promise<number>, summary: Promise<T>): Promise<T> {
  const [written, summarized] = await Promise.allSettled([upload, summary]);
  if (summarized.status === 'rejected' && isRoleFailure(summarized.reason)) throw summarized.reason;
  if (written.status === 'rejected' && isStoreFailure(written.reason)) throw written.reason;
  if (summarized.status === 'rejected') throw summarized.reason;
  if (written.status === 'rejected') throw written.reason;
  return summarized.value;
}

/** Passes entries through, reporting each file's size as it goes by. */
async function* countBytes(
  entries: AsyncIterable<ArchiveEntry>,
  onBytes: (bytes: number) => void,
): AsyncIterable<ArchiveEntry> {
  for await (const entry of entries) {
    yield entry;
    if (entry.size) onBytes(entry.size);
  }
}

/**
 * Runs `action` over items, starting them in `order` (indexes), at most `limit` at once; the results
 * keep the items' order.
 */
async function mapLimited<T, R>(
  items: T[],
  order: number[],
  limit: number,
  action: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < order.length) {
      const index = order[next++]!;
      results[index] = await action(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Turns role updates into progress records, at most one every PROGRESS_INTERVAL_MS while bytes flow. */
class ProgressTracker {
  private lastSent = 0;
  private readonly done = new Set<string>();

  constructor(
    private readonly roles: Role[],
    private readonly sink: ProgressSink,
  ) {}

  update(roleName: string, status: RoleStatus, sourceBytes: number): void {
    const finished = status.Status === 'Succeeded' || status.Status === 'Failed';
    if (finished) this.done.add(roleName);
    const now = Date.now();
    if (
      !finished &&
      status.Status === 'Running' &&
      sourceBytes > 0 &&
      now - this.lastSent < PROGRESS_INTERVAL_MS
    )
      return;
    this.lastSent = now;
    this.sink({
      activity: 'Backing up infrastructure roles',
      status: `${roleName}: ${status.Status}${sourceBytes ? `, ${(sourceBytes / 1048576).toFixed(1)} MB read` : ''} (${this.done.size} of ${this.roles.length} roles done)`,
      percentComplete: Math.floor((100 * this.done.size) / this.roles.length),
      roleName,
    });
  }
}
