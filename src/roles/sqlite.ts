/**
 * The Sqlite provider: a live database copied with SQLite's online backup API.
 *
 * The copy runs inside one read transaction that this connection opens first (bounded by the busy
 * timeout), and copies every page in a single backup step. Holding the read transaction means the
 * step needs no lock of its own and sees one moment of the database: in WAL mode writers go on
 * (their commits land after our snapshot), in rollback-journal mode they wait for it. A stepwise copy
 * would restart every time another connection writes and could run forever under a busy writer.
 * That step is one long synchronous call, so it runs in a worker thread (sqliteWorker.ts), as does
 * the integrity check of a restored database.
 */
import { createWriteStream } from 'node:fs';
import { chmod, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import type { ArchiveEntry, EntryHeader, ExtractedEntry } from '../archive/entry.js';
import { AzsError } from '../protocol/errors.js';
import type { RestoreResult, RoleProvider, RoleRegistration, RoleContext } from './provider.js';
import { rolePath, statOrUndefined } from './roleFiles.js';
import { checkInThread, copyInThread } from './sqliteThreads.js';
import { isBusy, isSqliteError } from './sqliteErrors.js';
import { buildBeside } from './swap.js';
import { fileEntry, ownerOf } from './treeWalker.js';
import { setOwnerAndMode } from './treeWriter.js';

export interface SqliteProviderOptions {
  /** How long to wait for a writer's lock before the snapshot (or restore) gives up. */
  busyTimeoutMs?: number;
}

const DEFAULT_BUSY_TIMEOUT_MS = 60_000;
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
/** Files SQLite keeps beside a database; a stale one beside a new database would be replayed into it. */
const COMPANION_SUFFIXES = ['-wal', '-shm', '-journal'];

export class SqliteProvider implements RoleProvider {
  readonly name = 'Sqlite';
  private readonly busyTimeoutMs: number;

  constructor(options: SqliteProviderOptions = {}) {
    this.busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  }

  async validate(role: RoleRegistration): Promise<void> {
    const file = rolePath(role);
    const stats = await statOrUndefined(file);
    if (!stats?.isFile()) {
      throw new AzsError(
        'PathNotFound',
        `The database file '${file}' does not exist. Give the role's SQLite database file as -Path.`,
        {
          parameter: 'Path',
          target: file,
        },
      );
    }
    if (!(await hasSqliteHeader(file))) {
      throw new AzsError(
        'InvalidParameter',
        `'${file}' is not a SQLite database. Give the role's SQLite database file as -Path.`,
        {
          parameter: 'Path',
          target: file,
        },
      );
    }
  }

  /** One file entry named after the database file (e.g. `Domain.db`), copied into the staging folder. */
  async *snapshot(role: RoleRegistration, context: RoleContext): AsyncGenerator<ArchiveEntry> {
    const source = rolePath(role);
    const stats = await statOrUndefined(source);
    if (!stats?.isFile()) {
      throw roleFailed(
        role,
        `the database file '${source}' does not exist. Restore or recreate it, or unregister the role.`,
      );
    }
    const copy = path.join(context.stagingDir, path.basename(source));
    await this.copyDatabase(role, source, copy, context.signal);
    await chmod(copy, stats.mode & 0o7777);
    // The copy belongs to the daemon; the entry records the database file's own owner.
    for await (const entry of fileEntry(copy, path.basename(source))) yield { ...entry, ...ownerOf(stats) };
  }

  restoreTarget(role: RoleRegistration): string {
    return rolePath(role);
  }

  /**
   * Writes the database beside the target, checks it, retires the target's journal files and
   * renames it into place. The target may not exist yet (fresh deployment, extract). Copies left by
   * an interrupted restore (`<file>.restore-<hex>` and their journal files) are removed first.
   */
  async restore(
    role: RoleRegistration,
    entries: AsyncIterable<ExtractedEntry>,
    _context: RoleContext,
  ): Promise<RestoreResult> {
    const target = rolePath(role);
    return buildBeside(
      target,
      'file',
      async (temp, location) => {
        const header = await writeSingleFile(entries, temp);
        await checkIntegrity(temp);
        await removeCompanions(temp);
        await this.retireCompanions(role, location);
        await setOwnerAndMode(temp, header);
      },
      COMPANION_SUFFIXES,
    );
  }

  /** Runs in a worker thread; cancelling stops a copy that still waits for a lock (see copyInThread). */
  private async copyDatabase(
    role: RoleRegistration,
    source: string,
    copy: string,
    signal: AbortSignal,
  ): Promise<void> {
    const outcome = await copyInThread({ source, copy, busyTimeoutMs: this.busyTimeoutMs }, signal);
    switch (outcome.result) {
      case 'copied':
        return;
      case 'cancelled':
        throw cancelled(role);
      case 'busy':
        throw roleFailed(
          role,
          `the database '${source}' stayed locked by a writer for more than ${Math.round(this.busyTimeoutMs / 1000)} s. ` +
            'Shorten the writer’s transactions or run the backup when it is quieter.',
        );
      case 'notOneStep':
        throw roleFailed(role, 'the database copy did not complete in one step. Run the backup again.');
      case 'failed':
        throw outcome.code
          ? new Database.SqliteError(outcome.message, outcome.code)
          : new Error(outcome.message);
      case 'stopped':
        throw roleFailed(
          role,
          `the thread copying the database stopped before it finished (${outcome.why}). Run the backup again.`,
        );
    }
  }

  /**
   * Before a new database takes the target's name, the target's WAL is checkpointed into it (so the
   * old database is complete on its own should anything fail from here) and its companion files are
   * removed. A database another process still has open cannot be replaced safely.
   */
  private async retireCompanions(role: RoleRegistration, target: string): Promise<void> {
    if (!(await statOrUndefined(target))) return;
    try {
      const db = new Database(target, { fileMustExist: true, timeout: this.busyTimeoutMs });
      try {
        // A first read rolls back a hot journal left by a crashed writer, so the old file is whole.
        db.prepare('SELECT count(*) FROM sqlite_schema').get();
        const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
        if (result?.busy) throw inUse(role, target);
      } finally {
        db.close();
      }
    } catch (error) {
      if (isBusy(error)) throw inUse(role, target);
      // A damaged or foreign target has nothing worth checkpointing: it is being replaced anyway.
      if (!isSqliteError(error)) throw error;
    }
    await removeCompanions(target);
  }
}

/** The one file a Sqlite snapshot holds, written to `file`; returns its header (owner and mode). */
async function writeSingleFile(entries: AsyncIterable<ExtractedEntry>, file: string): Promise<EntryHeader> {
  let header: EntryHeader | undefined;
  for await (const entry of entries) {
    if (entry.type !== 'file' || header !== undefined || !entry.content) {
      throw new AzsError(
        'BackupCorrupt',
        `The backup cannot be restored: a Sqlite role's data must be one database file, but it holds '${entry.path}' (${entry.type}) as well. Restore another backup.`,
        { target: entry.path },
      );
    }
    const sink = createWriteStream(file, { flags: 'wx', mode: 0o600, flush: true });
    await pipeline(entry.content, sink);
    header = entry;
  }
  if (header === undefined) {
    throw new AzsError(
      'BackupCorrupt',
      'The backup cannot be restored: the Sqlite role holds no database file. Restore another backup.',
    );
  }
  return header;
}

/** SQLite's integrity check of the restored copy, in a thread: BackupCorrupt unless it passes. */
async function checkIntegrity(file: string): Promise<void> {
  const outcome = await checkInThread(file);
  if (outcome.result === 'stopped')
    throw new Error(`the thread checking the restored database stopped before it finished (${outcome.why})`);
  if (outcome.result === 'failed') throw new Error(outcome.message);
  if (outcome.verdict !== 'ok') {
    throw new AzsError(
      'BackupCorrupt',
      `The restored database failed SQLite's integrity check (${outcome.verdict}); the current database was left as it was. Restore another backup.`,
    );
  }
}

async function removeCompanions(file: string): Promise<void> {
  for (const suffix of COMPANION_SUFFIXES) await rm(`${file}${suffix}`, { force: true });
}

async function hasSqliteHeader(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const header = Buffer.alloc(SQLITE_HEADER.length);
    const { bytesRead } = await handle.read(header, 0, header.length, 0);
    return bytesRead === header.length && header.equals(SQLITE_HEADER);
  } finally {
    await handle.close();
  }
}

function inUse(role: RoleRegistration, target: string): AzsError {
  return roleFailed(
    role,
    `the database '${target}' is open in another process. Stop the role's service, then restore again.`,
  );
}

function roleFailed(role: RoleRegistration, what: string): AzsError {
  return new AzsError('RoleFailed', `Role '${role.Name}': ${what}`, { target: role.Name });
}

function cancelled(role: RoleRegistration): AzsError {
  return new AzsError(
    'JobCancelled',
    `Role '${role.Name}': the database copy was stopped because the job was cancelled.`,
    { target: role.Name },
  );
}
