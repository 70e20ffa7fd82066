import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isAzsError } from '../../src/protocol/errors.js';
import { providerFor, SqliteProvider } from '../../src/roles/index.js';
import { collect, dataRole, replay } from '../helpers/roleEntries.js';
import { waitUntil } from '../helpers/waitUntil.js';

const writerScript = path.join(
  path.dirname(new URL(import.meta.url).pathname),
  '..',
  'helpers',
  'sqliteWriter.js',
);
const provider = new SqliteProvider({ busyTimeoutMs: 30_000 });
const SNAPSHOT_BOUND = { timeout: 120_000 };
const SEED_ROWS = 40_000;
/** Rows sqliteWriter.js commits per transaction: a consistent copy holds whole transactions only. */
const WRITER_BATCH = 20;

const role = (file: string) => dataRole(file, 'Sqlite', 'Domain');

/** A database big enough that copying it takes a while: about 20 MB of rows. */
function seed(file: string, journalMode: 'wal' | 'delete'): void {
  const db = new Database(file);
  db.pragma(`journal_mode = ${journalMode}`);
  db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO rows (payload) VALUES (randomblob(512))');
  db.transaction(() => {
    for (let row = 0; row < SEED_ROWS; row += 1) insert.run();
  })();
  db.close();
}

function query<T>(file: string, sql: string): T {
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 60_000 });
  try {
    return db.prepare(sql).pluck().get() as T;
  } finally {
    db.close();
  }
}

/** Starts the writer process and waits until it has committed (or locked). */
async function startWriter(...args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [writerScript, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit')])) as [string];
  assert.equal(line, 'ready', 'the writer process started');
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

describe('Sqlite provider', () => {
  let work: string;
  let writers: ChildProcess[] = [];
  let counter = 0;
  const fresh = async () => mkdtemp(path.join(work, `case-${(counter += 1)}-`));
  const context = (stagingDir: string) => ({ stagingDir, signal: new AbortController().signal });

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'azs-roles-sqlite-'));
  });
  after(async () => {
    await Promise.all(writers.map(stop));
    writers = [];
    await rm(work, { recursive: true, force: true });
  });

  const writer = async (...args: string[]) => {
    const child = await startWriter(...args);
    writers.push(child);
    return child;
  };

  /** Snapshot under a live writer; returns the copy (written to disk) and its row count. */
  /** A rollback-journal database whose writer process holds its lock until stopped. */
  async function lockedDatabase() {
    const folder = await fresh();
    const database = path.join(folder, 'Locked.db');
    seed(database, 'delete');
    return { folder, database, child: await writer(database, 'hold') };
  }

  async function snapshotUnderWriter(journalMode: 'wal' | 'delete') {
    const folder = await fresh();
    const database = path.join(folder, 'Domain.db');
    seed(database, journalMode);
    const child = await writer(database, 'write', journalMode);
    const rowsBefore = query<number>(database, 'SELECT count(*) FROM rows');
    const staging = await mkdtemp(path.join(folder, 'staging-'));
    const entries = await collect(provider.snapshot(role(database), context(staging)));
    assert.equal(child.exitCode, null, 'the writer is still running');
    assert.equal(entries.length, 1);
    const [entry] = entries;
    assert.equal(entry!.path, 'Domain.db');
    assert.equal(entry!.type, 'file');
    assert.equal(entry!.data!.length, entry!.size);
    const copy = path.join(folder, 'copy.db');
    await writeFile(copy, entry!.data!);
    assert.equal(query<string>(copy, 'PRAGMA integrity_check'), 'ok');
    const rowsInCopy = query<number>(copy, 'SELECT count(*) FROM rows');
    assert.ok(rowsInCopy >= rowsBefore, `${rowsInCopy} rows in the copy, ${rowsBefore} before it began`);
    assert.equal((rowsInCopy - SEED_ROWS) % WRITER_BATCH, 0, `${rowsInCopy} rows: a transaction was split`);
    return { database, copy, rowsInCopy, child, entries };
  }

  it('is what providerFor gives for Sqlite', () => {
    assert.ok(providerFor('Sqlite') instanceof SqliteProvider);
  });

  it('copies a WAL database consistently while another process keeps writing', SNAPSHOT_BOUND, async () => {
    const { database, rowsInCopy, child } = await snapshotUnderWriter('wal');
    // The writer went on: the live database moves past the snapshot while the copy stays as it was.
    await waitUntil(
      () => query<number>(database, 'SELECT count(*) FROM rows') > rowsInCopy,
      'the SQLite writer process to write past the snapshot',
    );
    await stop(child);
  });

  it(
    'copies a rollback-journal database consistently while another process waits to write',
    SNAPSHOT_BOUND,
    async () => {
      const { database, rowsInCopy, child } = await snapshotUnderWriter('delete');
      await waitUntil(
        () => query<number>(database, 'SELECT count(*) FROM rows') > rowsInCopy,
        'the SQLite writer process to write past the snapshot',
      );
      await stop(child);
    },
  );

  it('gives up after the busy timeout when a writer holds the database locked', SNAPSHOT_BOUND, async () => {
    const { folder, database, child } = await lockedDatabase();
    const impatient = new SqliteProvider({ busyTimeoutMs: 1000 });
    await assert.rejects(collect(impatient.snapshot(role(database), context(folder))), (error) => {
      assert.ok(isAzsError(error, 'RoleFailed'));
      assert.equal(error.target, 'Domain');
      assert.ok(
        error.message.startsWith(
          `Role 'Domain': the database '${database}' stayed locked by a writer for more than 1 s. `,
        ),
        error.message,
      );
      return true;
    });
    await stop(child);
  });

  it('stops a copy waiting for a lock when the job is cancelled', SNAPSHOT_BOUND, async () => {
    const { folder, database, child } = await lockedDatabase();
    const patient = new SqliteProvider({ busyTimeoutMs: 20_000 });
    const job = new AbortController();
    const copying = collect(patient.snapshot(role(database), { stagingDir: folder, signal: job.signal }));
    await sleep(200);
    job.abort();
    await assert.rejects(
      copying,
      (error) => isAzsError(error, 'JobCancelled') && /Role 'Domain'/.test(error.message),
    );
    await stop(child);
  });

  it("fails with SQLite's own error when the copy fails, and copies again afterwards", async () => {
    const folder = await fresh();
    const damaged = path.join(folder, 'Damaged.db');
    await writeFile(damaged, Buffer.alloc(8192, 0x5a));
    await assert.rejects(collect(provider.snapshot(role(damaged), context(folder))), (error) => {
      assert.ok(error instanceof Database.SqliteError, String(error));
      assert.equal(error.code, 'SQLITE_NOTADB');
      assert.equal(error.message, 'file is not a database');
      return true;
    });
    const database = path.join(folder, 'Domain.db');
    const db = new Database(database);
    db.exec("CREATE TABLE marker (name TEXT); INSERT INTO marker VALUES ('copied')");
    db.close();
    const staging = await mkdtemp(path.join(folder, 'staging-'));
    const [entry] = await collect(provider.snapshot(role(database), context(staging)));
    const copy = path.join(folder, 'copy.db');
    await writeFile(copy, entry!.data!);
    assert.equal(query<string>(copy, 'SELECT name FROM marker'), 'copied');
  });

  it('restores into a folder that does not exist yet, with the snapshot rows', SNAPSHOT_BOUND, async () => {
    const { rowsInCopy, child, entries } = await snapshotUnderWriter('wal');
    await stop(child);
    const target = path.join(work, 'extract', 'Domain', 'Domain.db');
    await provider.restore(role(target), replay(entries), context(work));
    assert.deepEqual(await readdir(path.dirname(target)), ['Domain.db']);
    assert.equal(query<string>(target, 'PRAGMA integrity_check'), 'ok');
    assert.equal(query<number>(target, 'SELECT count(*) FROM rows'), rowsInCopy);
  });

  it('replaces a database whose writer crashed, leaving no stale WAL beside it', SNAPSHOT_BOUND, async () => {
    const folder = await fresh();
    const source = path.join(folder, 'source.db');
    const db = new Database(source);
    db.exec("CREATE TABLE marker (name TEXT); INSERT INTO marker VALUES ('from the backup')");
    db.close();
    const entries = await collect(
      provider.snapshot(role(source), context(await mkdtemp(path.join(folder, 'staging-')))),
    );

    const target = path.join(folder, 'Domain.db');
    seed(target, 'wal');
    await stop(await writer(target, 'write', 'wal'));
    assert.ok(existsSync(`${target}-wal`), 'the crashed writer left a WAL behind');
    await provider.restore(role(target), replay(entries), context(folder));
    const companions = (await readdir(folder)).filter((name) => name.startsWith('Domain.db'));
    assert.deepEqual(companions, ['Domain.db']);
    assert.equal(query<string>(target, 'PRAGMA integrity_check'), 'ok');
    assert.equal(query<string>(target, 'SELECT name FROM marker'), 'from the backup');
    assert.equal(query<number>(target, "SELECT count(*) FROM sqlite_schema WHERE name = 'rows'"), 0);
  });

  it('refuses a damaged database and leaves the current one untouched', async () => {
    const folder = await fresh();
    const target = path.join(folder, 'Domain.db');
    seed(target, 'delete');
    const before = await sha256(target);
    const garbage = Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(8192, 0x5a)]);
    const damaged = [
      {
        path: 'Domain.db',
        type: 'file' as const,
        mode: 0o600,
        mtimeMs: Date.now(),
        size: garbage.length,
        data: garbage,
      },
    ];
    await assert.rejects(provider.restore(role(target), replay(damaged), context(folder)), (error) =>
      isAzsError(error, 'BackupCorrupt'),
    );
    const twoFiles = [...damaged, { ...damaged[0]!, path: 'other.db' }];
    await assert.rejects(provider.restore(role(target), replay(twoFiles), context(folder)), (error) =>
      isAzsError(error, 'BackupCorrupt'),
    );
    assert.equal(await sha256(target), before);
    assert.deepEqual(await readdir(folder), ['Domain.db']);
  });

  it("refuses a database SQLite's integrity check finds damaged, naming the damage", async () => {
    const folder = await fresh();
    const target = path.join(folder, 'Domain.db');
    seed(target, 'delete');
    const before = await sha256(target);
    // A whole database file whose index lacks every row: it opens, and only the check finds it.
    const damagedFile = path.join(await fresh(), 'damaged.db');
    const db = new Database(damagedFile);
    db.exec(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX tv ON t (v); INSERT INTO t (v) VALUES ('a'), ('b')",
    );
    db.unsafeMode(true);
    db.pragma('writable_schema = ON');
    db.exec("UPDATE sqlite_schema SET sql = 'CREATE INDEX tv ON t (id)' WHERE name = 'tv'");
    db.close();
    const data = await readFile(damagedFile);
    const entry = {
      path: 'Domain.db',
      type: 'file' as const,
      mode: 0o600,
      mtimeMs: Date.now(),
      size: data.length,
      data,
    };
    await assert.rejects(
      provider.restore(role(target), replay([entry]), context(folder)),
      (error) => isAzsError(error, 'BackupCorrupt') && /row 1 missing from index tv/.test(error.message),
    );
    assert.equal(await sha256(target), before);
    assert.deepEqual(await readdir(folder), ['Domain.db']);
  });

  it('validates that Path is an existing SQLite database', async () => {
    const folder = await fresh();
    const database = path.join(folder, 'ok.db');
    const db = new Database(database);
    db.exec('CREATE TABLE t (x)');
    db.close();
    await provider.validate(role(database));
    await writeFile(path.join(folder, 'text.db'), 'not a database at all');
    await assert.rejects(provider.validate(role(path.join(folder, 'text.db'))), (error) =>
      isAzsError(error, 'InvalidParameter'),
    );
    await assert.rejects(provider.validate(role(path.join(folder, 'missing.db'))), (error) =>
      isAzsError(error, 'PathNotFound'),
    );
    await mkdir(path.join(folder, 'folder.db'));
    await assert.rejects(provider.validate(role(path.join(folder, 'folder.db'))), (error) =>
      isAzsError(error, 'PathNotFound'),
    );
  });
});
