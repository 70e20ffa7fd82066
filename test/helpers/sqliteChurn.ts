/**
 * A separate process that writes to a SQLite database at full speed until it is killed, keeping the
 * database small (so that long runs do not turn into a disk benchmark):
 *   node sqliteChurn.js <database> <wal|delete>
 * Each transaction inserts BATCH_ROWS rows tagged with a new batch number and deletes the batch
 * KEPT_BATCHES before it, so a consistent snapshot holds only whole batches (batchProblems checks
 * that: a torn transaction would leave a partial batch). Prints "ready" after the first commit.
 * commitBatches runs a given number of the same transactions in the caller's process.
 */
import Database from 'better-sqlite3';
import { fileURLToPath } from 'node:url';

const BATCH_ROWS = 20;
export const KEPT_BATCHES = 250;

/** Batches that do not hold exactly BATCH_ROWS rows, in a database this writer wrote. */
export function batchProblems(file: string): string[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const partial = db
      .prepare('SELECT batch, count(*) AS n FROM batches GROUP BY batch HAVING n <> ?')
      .all(BATCH_ROWS) as Array<{ batch: number; n: number }>;
    return partial.map(({ batch, n }) => `batch ${batch} has ${n} of ${BATCH_ROWS} rows`);
  } finally {
    db.close();
  }
}

/** Opens (creating) the database; each commit() is one transaction: a new batch in, the one KEPT_BATCHES before out. */
function openBatches(file: string, journalMode: string): { commit: () => void; close: () => void } {
  const db = new Database(file, { timeout: 120_000 });
  db.pragma(`journal_mode = ${journalMode}`);
  db.exec(
    'CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY, batch INTEGER NOT NULL, payload BLOB NOT NULL)',
  );
  db.exec('CREATE INDEX IF NOT EXISTS batches_batch ON batches (batch)');
  const insert = db.prepare('INSERT INTO batches (batch, payload) VALUES (?, randomblob(512))');
  const drop = db.prepare('DELETE FROM batches WHERE batch = ?');
  let batch =
    (db.prepare('SELECT max(batch) AS last FROM batches').get() as { last: number | null }).last ?? 0;
  const commit = db.transaction(() => {
    batch += 1;
    for (let row = 0; row < BATCH_ROWS; row += 1) insert.run(batch);
    drop.run(batch - KEPT_BATCHES);
  });
  return { commit: () => commit(), close: () => db.close() };
}

/**
 * The churn's transactions, `count` of them, in this process, then the database closed (its WAL
 * checkpointed): a measured change, e.g. one batch of KEPT_BATCHES for about 1 % of the rows.
 */
export function commitBatches(file: string, count: number, journalMode = 'wal'): void {
  const batches = openBatches(file, journalMode);
  try {
    for (let done = 0; done < count; done += 1) batches.commit();
  } finally {
    batches.close();
  }
}

function churn(file: string, journalMode: string): void {
  const { commit } = openBatches(file, journalMode);
  commit();
  console.log('ready');
  const loop = (): void => {
    commit();
    setImmediate(loop);
  };
  loop();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, journalMode] = process.argv.slice(2);
  if (!file || (journalMode !== 'wal' && journalMode !== 'delete')) {
    console.error('usage: sqliteChurn.js <database> <wal|delete>');
    process.exit(2);
  }
  churn(file, journalMode);
}
