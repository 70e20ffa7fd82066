/**
 * A separate process that writes to a SQLite database until it is killed, for snapshot tests:
 *   node sqliteWriter.js <database> write <wal|delete>   inserts rows in small transactions forever
 *   node sqliteWriter.js <database> hold                 takes an exclusive lock and keeps it
 * Prints "ready" once it has committed (or locked), so the test knows the writer is in the way.
 */
import Database from 'better-sqlite3';

const [file, mode, journalMode] = process.argv.slice(2);
if (!file || (mode !== 'write' && mode !== 'hold')) {
  console.error('usage: sqliteWriter.js <database> write <wal|delete> | hold');
  process.exit(2);
}

const db = new Database(file, { timeout: 120_000 });
if (mode === 'hold') {
  db.exec('BEGIN EXCLUSIVE');
  console.log('ready');
  setInterval(() => undefined, 60_000);
} else {
  db.pragma(`journal_mode = ${journalMode ?? 'wal'}`);
  db.exec('CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO rows (payload) VALUES (randomblob(512))');
  const batch = db.transaction(() => {
    for (let row = 0; row < 20; row += 1) insert.run();
  });
  batch();
  console.log('ready');
  const loop = (): void => {
    batch();
    setImmediate(loop);
  };
  loop();
}
