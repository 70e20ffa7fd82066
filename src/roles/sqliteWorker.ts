/**
 * The Sqlite provider's long synchronous calls, run in a worker thread (sqliteThreads.ts): on the
 * main thread each stopped everything else the daemon does for as long as it ran.
 * - The database copy of a backup (see sqlite.ts for why it is one backup step inside one read
 *   transaction): every page in one call, ~0.25 s per 124 MB.
 * - The integrity check of a restored database: 1.9 s for the bench's two databases (147 MB) in
 *   a profile of a restore, during which the other roles' restores and RPC calls stood still.
 * For each request it receives the thread posts one outcome; the main side turns outcomes into the
 * role's errors.
 */
import { parentPort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { isBusy, isSqliteError } from './sqliteErrors.js';

export type SqliteRequest = CopyRequest | CheckRequest;

export interface CopyRequest {
  op: 'copy';
  source: string;
  copy: string;
  busyTimeoutMs: number;
  /** Shared with the main thread, which sets element 0 to 1 to cancel the copy. */
  cancel: Int32Array;
}

export type CopyOutcome =
  | { result: 'copied' }
  /** A writer held the database locked for longer than the busy timeout. */
  | { result: 'busy' }
  /** The backup asked for a second step: the one-step copy did not finish. */
  | { result: 'notOneStep' }
  /** The main thread cancelled the copy before it began copying pages. */
  | { result: 'cancelled' }
  /** Any other failure; `code` is SQLite's (e.g. SQLITE_NOTADB) when SQLite raised it. */
  | { result: 'failed'; message: string; code?: string };

export interface CheckRequest {
  op: 'check';
  /** The database to check: a restored copy that nothing else has open. */
  file: string;
}

export type CheckOutcome =
  /** SQLite's verdict: 'ok', what is damaged, or the error that stopped the check (not a database …). */
  | { result: 'checked'; verdict: string }
  /** A failure that is not SQLite's (the file could not be opened at all, …). */
  | { result: 'failed'; message: string };

/** The largest page count backup_step accepts: everything in one step. */
const ALL_PAGES = 0x7fffffff;
/**
 * The source connection's page cache: the backup reads each page once, so a cache only costs memory
 * (SQLite's default 16 MB here). A 256 KiB cache took ~16 MB off the peak RSS of a copy of the bench's
 * 124 MB Domain.db (CPU: ~200 ms, a few ms less). Reading the source through mmap (PRAGMA mmap_size)
 * saved ~40 ms CPU, but every mapped page counts in the daemon's RSS (+100 MB for Domain.db, up to
 * 2 GB for a big database) against SPEC §7's memory bound, so it is not used. The destination's
 * pragmas cannot be set: better-sqlite3's backup() opens it itself (so its fsync at the end stays).
 */
const SOURCE_CACHE_KIB = 256;
/**
 * The wait for a writer's lock is taken in slices this long, so that a cancelled copy stops waiting.
 * (Terminating the thread instead is not safe: better-sqlite3 aborts the whole process when a call it
 * is in fails while its thread is being terminated.)
 */
const BUSY_SLICE_MS = 100;

class Busy extends Error {}
class NotOneStep extends Error {}
class Cancelled extends Error {}

async function copyDatabase(request: CopyRequest): Promise<CopyOutcome> {
  throwIfCancelled(request);
  const timeout = Math.min(request.busyTimeoutMs, BUSY_SLICE_MS);
  const db = new Database(request.source, { fileMustExist: true, timeout });
  try {
    beginReadTransaction(db, request);
    db.pragma(`cache_size = -${SOURCE_CACHE_KIB}`);
    throwIfCancelled(request);
    let steps = 0;
    await db.backup(request.copy, {
      progress: () => {
        // better-sqlite3 reports after a first, empty step; a second report means the one-step copy did not finish.
        steps += 1;
        if (steps > 1) throw new NotOneStep();
        return ALL_PAGES;
      },
    });
    db.exec('COMMIT');
    return { result: 'copied' };
  } finally {
    db.close();
  }
}

/**
 * BEGIN is deferred: the first read takes the read lock (or WAL snapshot), waiting at most the busy
 * timeout. Any statement reads the schema first, so nothing runs on the source before this.
 */
function beginReadTransaction(db: Database.Database, request: CopyRequest): void {
  db.exec('BEGIN');
  const deadline = Date.now() + request.busyTimeoutMs;
  for (;;) {
    try {
      db.prepare('SELECT count(*) FROM sqlite_schema').get();
      return;
    } catch (error) {
      if (!isBusy(error)) throw error;
      if (Date.now() >= deadline) throw new Busy();
      throwIfCancelled(request);
    }
  }
}

function throwIfCancelled(request: CopyRequest): void {
  if (Atomics.load(request.cancel, 0) !== 0) throw new Cancelled();
}

function integrityCheck(request: CheckRequest): CheckOutcome {
  try {
    const db = new Database(request.file, { fileMustExist: true });
    try {
      const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
      return { result: 'checked', verdict: rows.map((row) => row.integrity_check).join('; ') };
    } finally {
      db.close();
    }
  } catch (error) {
    if (isSqliteError(error)) return { result: 'checked', verdict: error.message };
    return { result: 'failed', message: messageOf(error) };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function outcomeOf(error: unknown): CopyOutcome {
  if (error instanceof Busy) return { result: 'busy' };
  if (error instanceof NotOneStep) return { result: 'notOneStep' };
  if (error instanceof Cancelled) return { result: 'cancelled' };
  if (isSqliteError(error)) return { result: 'failed', message: error.message, code: error.code };
  return { result: 'failed', message: messageOf(error) };
}

parentPort!.on('message', (request: SqliteRequest) => {
  if (request.op === 'check') return parentPort!.postMessage(integrityCheck(request));
  void copyDatabase(request)
    .catch(outcomeOf)
    .then((outcome) => parentPort!.postMessage(outcome));
});
