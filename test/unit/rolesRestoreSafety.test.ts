/**
 * What a restore puts on disk beyond the data itself (issue 14): owners and set-id bits, role paths
 * that are symbolic links, and previous data that cannot be removed after the swap. Entries go
 * through the real archive (written, encrypted, read back), as a restore gets them.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cp,
  lchown,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import type { ArchiveEntry, ExtractedEntry } from '../../src/archive/entry.js';
import { ROLE_FILE_VERSION, readRoleArchive, writeRoleArchive } from '../../src/archive/index.js';
import { DirectoryProvider, SqliteProvider } from '../../src/roles/index.js';
import { dataRole, opened, readAll } from '../helpers/roleEntries.js';

const NOBODY = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
const NOGROUP = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
const directory = new DirectoryProvider();
const sqlite = new SqliteProvider({ busyTimeoutMs: 10_000 });

const role = dataRole;

/** The entries as a restore reads them: archived, encrypted and read back. `edit` changes headers on the way. */
async function throughArchive(
  entries: AsyncIterable<ArchiveEntry>,
  edit: (entry: ArchiveEntry) => ArchiveEntry = (entry) => entry,
): Promise<AsyncIterable<ExtractedEntry>> {
  async function* edited(): AsyncGenerator<ArchiveEntry> {
    // Opened first: what `edit` changes must be what is stored, not the listing.
    for await (const entry of opened(entries)) yield edit(entry);
  }
  const key = randomBytes(32);
  const { stream } = writeRoleArchive(edited(), { key, fileId: 'backup/CA' });
  const stored = await readAll(stream);
  return readRoleArchive(Readable.from([stored]), {
    key,
    fileId: 'backup/CA',
    formatVersion: ROLE_FILE_VERSION,
  });
}

async function ownerAndMode(file: string): Promise<{ uid: number; gid: number; mode: string }> {
  const stats = await lstat(file);
  return { uid: stats.uid, gid: stats.gid, mode: (stats.mode & 0o7777).toString(8) };
}

describe('Restore and owners', () => {
  let work: string;
  let source: string;
  const context = () => ({ stagingDir: path.join(work, 'staging'), signal: new AbortController().signal });

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'azs-restore-safety-'));
    await mkdir(path.join(work, 'staging'));
    source = path.join(work, 'source');
    await mkdir(path.join(source, 'shared'), { recursive: true });
    await writeFile(path.join(source, 'shared', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    await writeFile(path.join(source, 'root-tool'), '#!/bin/sh\n', { mode: 0o755 });
    await symlink('root-tool', path.join(source, 'link'));
    // What a local user who can write into the role's folder plants: a setuid file of their own.
    await lchown(path.join(source, 'shared', 'tool'), NOBODY, NOGROUP);
    await lchown(path.join(source, 'shared'), NOBODY, NOGROUP);
    await lchown(path.join(source, 'link'), NOBODY, NOGROUP);
    execFileSync('chmod', ['4755', path.join(source, 'shared', 'tool')]);
    execFileSync('chmod', ['2775', path.join(source, 'shared')]);
    execFileSync('chmod', ['6755', path.join(source, 'root-tool')]);
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('as root gives every entry its recorded owner, set-id bits only with that owner', async () => {
    const target = path.join(work, 'owned');
    await mkdir(target);
    await lchown(target, NOBODY, NOGROUP); // the role's folder itself keeps its owner
    await directory.restore(
      role(target),
      await throughArchive(directory.snapshot(role(source), context())),
      context(),
    );
    assert.deepEqual(await ownerAndMode(path.join(target, 'shared', 'tool')), {
      uid: NOBODY,
      gid: NOGROUP,
      mode: '4755',
    });
    assert.deepEqual(await ownerAndMode(path.join(target, 'shared')), {
      uid: NOBODY,
      gid: NOGROUP,
      mode: '2775',
    });
    assert.deepEqual(await ownerAndMode(path.join(target, 'root-tool')), { uid: 0, gid: 0, mode: '6755' });
    assert.deepEqual(await ownerAndMode(target), { uid: NOBODY, gid: NOGROUP, mode: '755' });
    const link = await lstat(path.join(target, 'link'));
    assert.deepEqual([link.uid, link.gid], [NOBODY, NOGROUP]);
  });

  it('clears setuid and setgid of entries without an owner (files written before format version 3)', async () => {
    const target = path.join(work, 'ownerless');
    const withoutOwner = ({ uid: _uid, gid: _gid, ...entry }: ArchiveEntry): ArchiveEntry => entry;
    const entries = await throughArchive(directory.snapshot(role(source), context()), withoutOwner);
    await directory.restore(role(target), entries, context());
    assert.deepEqual(await ownerAndMode(path.join(target, 'shared', 'tool')), {
      uid: 0,
      gid: 0,
      mode: '755',
    });
    assert.deepEqual(await ownerAndMode(path.join(target, 'shared')), { uid: 0, gid: 0, mode: '775' });
    assert.deepEqual(await ownerAndMode(path.join(target, 'root-tool')), { uid: 0, gid: 0, mode: '755' });
  });

  it('gives a Sqlite database its own owner back, not the daemon’s', async () => {
    const database = path.join(work, 'WAS.db');
    const db = new Database(database);
    db.exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept')");
    db.close();
    await lchown(database, NOBODY, NOGROUP);
    execFileSync('chmod', ['4640', database]);
    const entries = await throughArchive(sqlite.snapshot(role(database, 'Sqlite'), context()));
    const target = path.join(work, 'restored.db');
    await sqlite.restore(role(target, 'Sqlite'), entries, context());
    assert.deepEqual(await ownerAndMode(target), { uid: NOBODY, gid: NOGROUP, mode: '4640' });
  });

  it('not as root clears setuid and setgid even where an owner is recorded', async () => {
    const folder = path.join(work, 'unprivileged');
    await mkdir(folder);
    execFileSync('chown', ['nobody', folder]);
    // The unprivileged user may not be able to reach this checkout: it runs a copy of the code.
    const code = path.join(work, 'code');
    await cp(fileURLToPath(new URL('../../src', import.meta.url)), path.join(code, 'src'), {
      recursive: true,
    });
    await writeFile(path.join(code, 'package.json'), JSON.stringify({ type: 'module' }));
    execFileSync('chmod', ['-R', 'a+rX', work]);
    const writer = pathToFileURL(path.join(code, 'src', 'roles', 'treeWriter.js')).href;
    const entry = { path: 'tool', type: 'file', mode: 0o4755, mtimeMs: 0, size: 0, uid: 0, gid: 0 };
    const script = `import(${JSON.stringify(writer)}).then((m) => m.writeTree([${JSON.stringify(entry)}], ${JSON.stringify(path.join(folder, 'out'))}))`;
    execFileSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', script], { stdio: 'pipe' });
    assert.deepEqual(await ownerAndMode(path.join(folder, 'out', 'tool')), {
      uid: NOBODY,
      gid: NOGROUP,
      mode: '755',
    });
  });
});

describe('Restore of a role whose path is a symbolic link', () => {
  let work: string;
  const context = () => ({ stagingDir: path.join(work, 'staging'), signal: new AbortController().signal });

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'azs-restore-link-'));
    await mkdir(path.join(work, 'staging'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('a Directory role restores into the folder the link leads to, and the link stays', async () => {
    const real = path.join(work, 'volume', 'CA-data');
    await mkdir(real, { recursive: true });
    await writeFile(path.join(real, 'cert.json'), 'backed up');
    const link = path.join(work, 'CA');
    await symlink(real, link);
    const entries = await throughArchive(directory.snapshot(role(link), context()));
    await writeFile(path.join(real, 'cert.json'), 'changed since');
    const result = await directory.restore(role(link), entries, context());
    assert.deepEqual(await result.removePreviousData?.(), []);
    assert.equal(await readlink(link), real);
    assert.equal(await readFile(path.join(real, 'cert.json'), 'utf8'), 'backed up');
    assert.deepEqual(
      await readdir(path.dirname(real)),
      ['CA-data'],
      'no sibling left beside the real folder',
    );
  });

  it('a Sqlite role restores into the database file the (relative) link leads to, and the link stays', async () => {
    const real = path.join(work, 'volume', 'WAS.db');
    const db = new Database(real);
    db.exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('backed up')");
    db.close();
    const link = path.join(work, 'WAS.db');
    await symlink(path.join('volume', 'WAS.db'), link);
    const entries = await throughArchive(sqlite.snapshot(role(link, 'Sqlite'), context()));
    const live = new Database(real);
    live.exec("UPDATE t SET v = 'changed since'");
    live.close();
    await sqlite.restore(role(link, 'Sqlite'), entries, context());
    assert.equal(await readlink(link), path.join('volume', 'WAS.db'));
    const restored = new Database(real, { readonly: true });
    assert.equal(restored.prepare('SELECT v FROM t').pluck().get(), 'backed up');
    restored.close();
  });
});

describe('Restore when the previous data cannot be removed', () => {
  let work: string;
  const context = () => ({ stagingDir: path.join(work, 'staging'), signal: new AbortController().signal });

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'azs-restore-leftover-'));
    await mkdir(path.join(work, 'staging'));
  });
  after(async () => {
    spawnSync('chattr', ['-R', '-i', work]); // wherever the immutable file ended up
    await rm(work, { recursive: true, force: true });
  });

  it('the new data is in place, the restore succeeds and names the leftover', async () => {
    const target = path.join(work, 'CA');
    await mkdir(target);
    await writeFile(path.join(target, 'cert.json'), 'backed up');
    const entries = await throughArchive(directory.snapshot(role(target), context()));
    // An immutable file: not even root can delete it, so the old tree cannot be removed.
    const stuck = path.join(target, 'immutable.log');
    await writeFile(stuck, 'written since');
    execFileSync('chattr', ['+i', stuck]);
    const result = await directory.restore(role(target), entries, context());
    assert.deepEqual(await readdir(target), ['cert.json']);
    assert.deepEqual(result.warnings, []);
    // The previous data is removed after the swap, in the background; its outcome comes later.
    const warnings = await result.removePreviousData?.();
    const [old] = (await readdir(work)).filter((name) => name.startsWith('CA.removing-'));
    assert.ok(old, 'the previous data is still beside the folder');
    assert.equal(warnings?.length, 1);
    assert.match(warnings[0]!, new RegExp(`Remove '${path.join(work, old)}' by hand`));
  });

  it('a later restore of the same role succeeds too, and still names it', async () => {
    const target = path.join(work, 'CA');
    const entries = await throughArchive(directory.snapshot(role(target), context()));
    const result = await directory.restore(role(target), entries, context());
    assert.equal(await readFile(path.join(target, 'cert.json'), 'utf8'), 'backed up');
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0]!, /could not be removed/);
    assert.deepEqual(await result.removePreviousData?.(), []);
  });
});
