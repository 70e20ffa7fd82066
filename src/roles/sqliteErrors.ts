/** Telling SQLite's errors apart, on both sides of the Sqlite provider's copy worker. */
import Database from 'better-sqlite3';

export function isSqliteError(error: unknown): error is InstanceType<typeof Database.SqliteError> {
  return error instanceof Database.SqliteError;
}

/** Another connection held a lock for longer than the busy timeout. */
export function isBusy(error: unknown): boolean {
  return isSqliteError(error) && /^SQLITE_(BUSY|LOCKED)/.test(error.code);
}
