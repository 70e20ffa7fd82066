/**
 * A backup's work in the store: every role backed up (a few at once), the manifest written last and
 * recorded in the ledger, so a backup is visible only once complete and verified. On failure the
 * backup's folder goes.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  FORMAT_VERSION,
  MAX_CHANGED_LISTED,
  REPOSITORY_FORMAT_VERSION,
  type ManifestContent,
  authenticateManifest,
  serializeManifest,
  type UnsealedManifest,
} from '../archive/manifest.js';
import { BLOCK_SIZE } from '../archive/index.js';
import { epochKeys } from '../crypto/epochKeys.js';
import type { ChunkIdFunction } from '../crypto/chunkId.js';
import { generateBackupKey, wrapKey } from '../crypto/keyWrap.js';
import { RepositoryWriter, type StoredRole } from '../repository/writer.js';
import { currentEpoch } from '../state/repositoryEpoch.js';
import { AzsError, isAzsError } from '../protocol/errors.js';
import type { BackupRecord, Role, RoleMeasure } from '../protocol/objects.js';
import type { ManifestLedger } from '../state/manifestLedger.js';
import type { RoleSeconds, RoleTimings } from '../state/roleTimings.js';
import type { SavedCertificate, StateDir } from '../state/stateDir.js';
import type { BackupStore } from '../storage/store.js';
import type { Clock } from '../util/clock.js';
import { formatIsoDuration } from '../util/format.js';
import { ProgressTracker } from './backupProgress.js';
import {
  backupRole,
  repositoryStorage,
  roleFileStorage,
  type RoleBackupDeps,
  type RoleStorage,
  type RoleOutcome,
} from './backupRole.js';
import { removeIfEmpty } from './housekeeping.js';
import type { ProgressListener } from './job.js';
import { MANIFEST_NAME, backupFolder } from './layout.js';
import { damagedPacks } from './packVerification.js';
import { nextTimings, startOrder } from './roleOrder.js';

/** Roles backed up at once: enough to overlap one role's file I/O with the others' compression. */
const ROLE_PARALLELISM = 3;

export interface BackupRunDeps extends RoleBackupDeps {
  clock: Clock;
  /** Where each manifest written is recorded, before the job reports success. */
  ledger: ManifestLedger;
  timings: RoleTimings;
}

export async function runBackup(
  deps: BackupRunDeps,
  { store, path: storePath }: { store: BackupStore; path: string },
  backup: BackupRecord,
  roles: Role[],
  certificate: SavedCertificate,
  signal: AbortSignal,
  progress: ProgressListener = () => undefined,
): Promise<{ record: BackupRecord; measures: RoleMeasure[] }> {
  const created = new Date(backup.CreatedDateTime);
  const folder = backupFolder(created, backup.BackupId);
  const format = await keysFor(deps, store, storePath, certificate);
  const { key, repository } = format;
  let writer: RepositoryWriter | null = null;
  try {
    await store.checkRoot();
    await store.mkdir(folder);
    writer = repository
      ? await RepositoryWriter.open(
          store,
          epochKeys(repository.epoch, key, repository.chunkIdFunction),
          undefined,
          await damagedPacks(deps.state, repository.epoch),
        )
      : null;
    const storage: RoleStorage = writer
      ? repositoryStorage(deps, writer, folder)
      : roleFileStorage(deps, store, folder, key);
    const tracker = new ProgressTracker(roles, progress);
    const lastSeconds = await deps.timings.read();
    const outcomes = await mapLimited(
      roles,
      startOrder(roles, lastSeconds),
      ROLE_PARALLELISM,
      (role, index) =>
        backupRole(
          deps,
          storage,
          folder,
          role,
          () => deps.roles.checkPlacement(role, storePath),
          signal,
          (status, bytes) => {
            backup.RoleStatus[index] = status;
            tracker.update(role.Name, status, bytes);
          },
        ),
    );
    signal.throwIfAborted();
    // Format 4: the last pack and the backup's index file, before any manifest refers to them; and
    // every pack the roles use still there (a prune beside the backup must not leave it a gap).
    if (writer) {
      await writer.finish();
      await writer.checkStored(outcomes.flatMap((outcome) => (outcome.content ? [outcome.content] : [])));
    }
    const finished = completed(deps.clock, backup, outcomes);
    if (finished.Status === 'Failed') {
      throw new AzsError(
        'BackupFailed',
        `Every role failed: ${outcomes.map((outcome) => `${outcome.status.RoleName}: ${outcome.status.ErrorMessage}`).join('; ')}`,
        {
          target: backup.BackupId,
        },
      );
    }
    const manifest = manifestOf(deps.state, finished, roles, outcomes, certificate, format, writer);
    const manifestBytes = Buffer.from(serializeManifest(authenticateManifest(manifest, key)), 'utf8');
    await store.writeFile(`${folder}/${MANIFEST_NAME}`, Readable.from([manifestBytes]));
    // A backup whose manifest the ledger does not know is not this deployment's: if the record
    // cannot be written, the job fails and its folder goes (below).
    await deps.ledger.record({
      BackupId: backup.BackupId,
      Folder: folder,
      CreatedDateTime: backup.CreatedDateTime,
      ManifestSha256: createHash('sha256').update(manifestBytes).digest('hex'),
    });
    await rememberTimings(deps, roles, lastSeconds, outcomes);
    return { record: finished, measures: measuresOf(outcomes) };
  } catch (error) {
    // Packs still being written finish or fail now, not under the next job (prune removes them).
    await writer?.abandon();
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
async function rememberTimings(
  deps: BackupRunDeps,
  roles: Role[],
  lastSeconds: RoleSeconds,
  outcomes: RoleOutcome[],
) {
  const timings = nextTimings(
    roles,
    lastSeconds,
    outcomes.map((outcome) => outcome.seconds),
  );
  await deps.timings
    .save(timings)
    .catch((error: unknown) => deps.log.warn('role timings not saved', { error: String(error) }));
}

function completed(clock: Clock, backup: BackupRecord, outcomes: RoleOutcome[]): BackupRecord {
  const succeeded = outcomes.filter((outcome) => outcome.status.Status === 'Succeeded').length;
  const status =
    succeeded === outcomes.length ? 'Succeeded' : succeeded === 0 ? 'Failed' : 'PartialSucceeded';
  const sourceBytes = sum(outcomes.map((outcome) => outcome.sourceBytes));
  const storedBytes = sum(outcomes.map((outcome) => outcome.storedBytes));
  return {
    ...backup,
    Status: status,
    RoleStatus: outcomes.map((outcome) => outcome.status),
    TimeTakenToCreate: formatIsoDuration(clock.now().getTime() - Date.parse(backup.CreatedDateTime)),
    IsCloudRecoveryReady: status === 'Succeeded',
    BackupSizeInKb: Math.ceil(sourceBytes / 1024),
    CompressedBackupSizeInKb: Math.ceil(storedBytes / 1024),
    CompletelyUploaded: true,
  };
}

function manifestOf(
  state: StateDir,
  backup: BackupRecord,
  roles: Role[],
  outcomes: RoleOutcome[],
  certificate: SavedCertificate,
  format: BackupKeys,
  writer: RepositoryWriter | null,
): UnsealedManifest {
  return {
    ...backup,
    FormatVersion: format.repository ? REPOSITORY_FORMAT_VERSION : FORMAT_VERSION,
    Location: state.identity.Location,
    Encryption: {
      Algorithm: 'AES-256-GCM',
      KeyWrap: 'RSA-OAEP-SHA256',
      WrappedKey: format.wrappedKey,
      CertificateThumbprint: certificate.thumbprint,
      ...(format.repository
        ? { Epoch: format.repository.epoch, ChunkId: format.repository.chunkIdFunction }
        : { BlockSize: BLOCK_SIZE }),
    },
    Compression: 'zstd',
    Roles: roles.map((role, index) => {
      const outcome = outcomes[index]!;
      return {
        Registration: role,
        Files: outcome.files,
        ...(outcome.content && writer ? { Content: contentOf(outcome.content, writer) } : {}),
        Entries: outcome.entries,
        SourceBytes: outcome.sourceBytes,
        ChangedDuringCopy: outcome.changedDuringCopy.slice(0, MAX_CHANGED_LISTED),
        ChangedDuringCopyCount: outcome.changedDuringCopy.length,
      };
    }),
  };
}

function contentOf(stored: StoredRole, writer: RepositoryWriter): ManifestContent {
  return {
    List: stored.list,
    Chunks: stored.chunks,
    Packs: writer.packsOf(stored),
    AddedBytes: stored.addedBytes,
  };
}

/** The key a backup is written with. */
interface BackupKeys {
  key: Buffer;
  wrappedKey: string;
  /** Format 4: the epoch the backup belongs to, and what its chunk ids are made with. */
  repository: { epoch: string; chunkIdFunction: ChunkIdFunction } | null;
}

/**
 * Format 4 (the daemon runs with AZSBACKUP_FORMAT=4): the epoch's data key, kept by the daemon;
 * otherwise a new key for this backup alone.
 */
async function keysFor(
  deps: BackupRunDeps,
  store: BackupStore,
  storePath: string,
  certificate: SavedCertificate,
): Promise<BackupKeys> {
  if (!writesRepository()) {
    const key = generateBackupKey();
    return { key, wrappedKey: wrapKey(key, certificate.pem), repository: null };
  }
  const current = await currentEpoch(deps.state, certificate, storePath);
  if (current.started)
    deps.log.info('repository epoch started', {
      epoch: current.epoch,
      chunkIds: current.chunkIdFunction,
      store: store.location,
    });
  return {
    key: current.dataKey,
    wrappedKey: current.wrappedKey,
    repository: { epoch: current.epoch, chunkIdFunction: current.chunkIdFunction },
  };
}

/** Whether backups go to the deduplicating repository (format 4), a preview for now. */
export function writesRepository(): boolean {
  return process.env.AZSBACKUP_FORMAT === String(REPOSITORY_FORMAT_VERSION);
}

/** Each stored role's sizes and duration, for the job record (metrics, the report). */
export function measuresOf(outcomes: RoleOutcome[]): RoleMeasure[] {
  return outcomes
    .filter((outcome) => outcome.status.Status === 'Succeeded')
    .map((outcome) => ({
      RoleName: outcome.status.RoleName,
      SourceBytes: outcome.sourceBytes,
      StoredBytes: outcome.storedBytes,
      DurationSeconds: outcome.seconds,
    }));
}

export function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
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
