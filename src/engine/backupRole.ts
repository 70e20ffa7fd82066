/**
 * One role of a backup: snapshotted by its provider, compressed and encrypted into the store, and
 * read back and checked. A role's own failure is that role's; a store failure ends the job.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ArchiveEntry } from '../archive/entry.js';
import { fileIdOf, type BackupManifest } from '../archive/manifest.js';
import { compareReadBack, writeRoleArchive } from '../archive/index.js';
import { AzsError } from '../protocol/errors.js';
import type { Role, RoleStatus } from '../protocol/objects.js';
import { nothingStoredWarning, providerFor } from '../roles/index.js';
import type { StateDir } from '../state/stateDir.js';
import type { BackupStore } from '../storage/store.js';
import type { RepositoryWriter, StoredRole } from '../repository/writer.js';
import { readFileCache, writeFileCache } from '../state/fileCache.js';
import type { Logger } from '../util/log.js';
import { roleFile } from './layout.js';
import type { RoleService } from './roles.js';

export interface RoleOutcome {
  status: RoleStatus;
  files: BackupManifest['Roles'][number]['Files'];
  /** Format 4: the role in the repository. */
  content: StoredRole | null;
  /** Bytes this role added to the store. */
  storedBytes: number;
  entries: number;
  sourceBytes: number;
  changedDuringCopy: string[];
  /** How long the role took, when it was stored. */
  seconds: number | null;
}

export interface RoleBackupDeps {
  state: StateDir;
  log: Logger;
  roles: RoleService;
}

/** Where a role's entries go: a role file of its own (format 3) or the repository (format 4). */
export interface RoleStorage {
  store(
    role: Role,
    entries: AsyncIterable<ArchiveEntry>,
    signal: AbortSignal,
  ): Promise<Omit<RoleOutcome, 'status' | 'seconds'>>;
  /** Removes what a failed role left, where something can be removed (its folder). */
  discard(role: Role): Promise<void>;
  /** Whether it caches small files (RoleContext.listSmallFiles). */
  cachesSmallFiles: boolean;
}

export async function backupRole(
  deps: RoleBackupDeps,
  storage: RoleStorage,
  folder: string,
  role: Role,
  checkPlacement: () => Promise<void>,
  signal: AbortSignal,
  report: (status: RoleStatus, sourceBytes: number) => void,
): Promise<RoleOutcome> {
  const stagingDir = deps.state.stagingFor(path.basename(folder), role.Name);
  await mkdir(stagingDir, { recursive: true, mode: 0o700 });
  let sourceBytes = 0;
  // One status for every report while the role runs (one per file): nothing changes it.
  const running: RoleStatus = { RoleName: role.Name, Status: 'Running', ErrorMessage: null };
  report(running, 0);
  const started = Date.now();
  try {
    signal.throwIfAborted();
    await checkPlacement();
    const entries = roleEntries(
      role,
      providerFor(role.Provider).snapshot(role, {
        stagingDir,
        signal,
        listSmallFiles: storage.cachesSmallFiles,
      }),
      (bytes) => {
        sourceBytes += bytes;
        report(running, sourceBytes);
      },
    );
    const stored = await storage.store(role, entries, signal);
    const status: RoleStatus = {
      RoleName: role.Name,
      Status: 'Succeeded',
      ErrorMessage: stored.entries ? null : nothingStoredWarning(role),
    };
    report(status, stored.sourceBytes);
    return { status, ...stored, seconds: (Date.now() - started) / 1000 };
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    const status: RoleStatus = { RoleName: role.Name, Status: 'Failed', ErrorMessage: message };
    // The job ends here: the role is recorded as failed with it, never left Running.
    report(status, sourceBytes);
    if (isStoreFailure(error) || signal.aborted) throw error;
    deps.log.warn('role backup failed', { role: role.Name, error: message });
    await storage.discard(role);
    return {
      status,
      files: [],
      content: null,
      storedBytes: 0,
      entries: 0,
      sourceBytes: 0,
      changedDuringCopy: [],
      seconds: null,
    };
  } finally {
    await rm(stagingDir, { recursive: true, force: true });
  }
}

/** Format 3: each role in a role file of its own, read back and checked before the manifest names it. */
export function roleFileStorage(
  deps: RoleBackupDeps,
  store: BackupStore,
  folder: string,
  key: Buffer,
): RoleStorage {
  return {
    async store(role, entries, signal) {
      const started = Date.now();
      const relative = roleFile(role.Name);
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
      deps.log.info('role backed up', {
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
      return {
        files: [{ Path: relative, Size: summary.storedBytes, Sha256: readBack.sha256, FileId: fileId }],
        content: null,
        storedBytes: summary.storedBytes,
        entries: summary.entries,
        sourceBytes: summary.sourceBytes,
        changedDuringCopy: summary.changedDuringCopy,
      };
    },
    discard: (role) => store.remove(`${folder}/${role.Name}`).catch(() => undefined),
    cachesSmallFiles: false,
  };
}

/**
 * Format 4: each role into the repository. Its chunks are in packs that are written and read back
 * as they fill; the manifest names the role only after RepositoryWriter.finish.
 */
export function repositoryStorage(
  deps: RoleBackupDeps,
  writer: RepositoryWriter,
  folder: string,
): RoleStorage {
  return {
    async store(role, entries, signal) {
      const started = Date.now();
      const cache = await readFileCache(deps.state, role.Name, writer.epoch);
      const stored = await writer.storeRole(entries, signal, cache);
      // Kept even if the backup fails later: every chunk it names is checked before it is reused.
      await writeFileCache(deps.state, role.Name, writer.epoch, stored.fileCache).catch((error: unknown) =>
        deps.log.warn('file cache not saved', { role: role.Name, error: String(error) }),
      );
      deps.log.info('role backed up', {
        backupId: path.basename(folder),
        role: role.Name,
        entries: stored.counts.entries,
        sourceBytes: stored.counts.sourceBytes,
        chunks: stored.chunks,
        addedBytes: stored.addedBytes,
        seconds: (Date.now() - started) / 1000,
      });
      return {
        files: [],
        content: stored,
        storedBytes: stored.addedBytes,
        entries: stored.counts.entries,
        sourceBytes: stored.counts.sourceBytes,
        changedDuringCopy: stored.changedDuringCopy,
      };
    },
    // Chunks of a failed role stay in packs nothing refers to, until the next prune.
    discard: async () => undefined,
    cachesSmallFiles: true,
  };
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
export function isStoreFailure(error: unknown): boolean {
  return error instanceof AzsError && STORE_REASONS.has(error.reason);
}

/** A role's own failure: an AzsError that is not the store's (RoleFailed, BackupCorrupt …). */
function isRoleFailure(error: unknown): boolean {
  return error instanceof AzsError && !isStoreFailure(error) && error.reason !== 'JobCancelled';
}

/**
 * The provider's entries, each file's size reported as it goes by, and its failures made the role's:
 * an error without a reason of its own (an errno from a file, a SQLite error) becomes RoleFailed
 * before the archive and the store see it, so it can never be taken for the store's. One generator
 * for both: each level of async generators costs every entry a few promises.
 */
async function* roleEntries(
  role: Role,
  entries: AsyncIterable<ArchiveEntry>,
  onBytes: (bytes: number) => void,
): AsyncIterable<ArchiveEntry> {
  try {
    for await (const entry of entries) {
      yield entry;
      if (entry.size) onBytes(entry.size);
    }
  } catch (error) {
    if (error instanceof AzsError) throw error;
    throw new AzsError('RoleFailed', `Role '${role.Name}': ${(error as Error)?.message ?? error}`, {
      target: role.Name,
      cause: error,
    });
  }
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
