/**
 * What a restore killed midway leaves beside a role's data, made by hand here, and how the next
 * restore and backup deal with it (src/roles/swap.ts). The e2e counterpart kills a real daemon:
 * test/e2e/recovery.test.ts, "kill -9 during a restore".
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import type { ExtractedEntry } from '../../src/archive/entry.js';
import { isAzsError } from '../../src/protocol/errors.js';
import { DirectoryProvider, SqliteProvider } from '../../src/roles/index.js';
import type { RestoreResult } from '../../src/roles/provider.js';
import { collect, dataRole, describeTree, replay, withoutTimes } from '../helpers/roleEntries.js';

const HEX = '0123456789ab';
const directory = new DirectoryProvider();
const sqlite = new SqliteProvider({ busyTimeoutMs: 10_000 });

const role = dataRole;

/** Names beside `target` that start with its name (what a test may expect to find or not). */
async function besides(target: string): Promise<string[]> {
  const base = path.basename(target);
  return (await readdir(path.dirname(target)))
    .filter((name) => name !== base && name.startsWith(base))
    .sort();
}

/** A folder with one file, as previous data or a half-built restore would hold. */
async function folderWith(folder: string, file: string, text: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, file), text);
}

/** Names that resemble our siblings but are not ours: a restore must leave them alone. */
const LOOK_ALIKES = [
  'CA.restore-xyz',
  `CA.restore-${HEX}.bak`,
  `CA.restore-${HEX}c`,
  `CA.restore-${HEX.toUpperCase()}`,
  `CA.restore-${HEX}-wal`,
  `CA.old-${HEX.slice(1)}`,
  `CAX.restore-${HEX}`,
];

describe('Restore after an interrupted restore', () => {
  let work: string;
  let source: string;
  const context = () => ({ stagingDir: work, signal: new AbortController().signal });

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'azs-roles-interrupted-'));
    source = path.join(work, 'source');
    await folderWith(path.join(source, 'sub'), 'cert.json', '{"new":true}');
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function backupEntries(): Promise<AsyncIterable<ExtractedEntry>> {
    return replay(await collect(directory.snapshot(role(source), context())));
  }

  /** Restores the backup into `target` and waits for the previous data's removal (in the background). */
  async function restoreAndRemove(target: string): Promise<RestoreResult> {
    const result = await directory.restore(role(target), await backupEntries(), context());
    assert.deepEqual((await result.removePreviousData?.()) ?? [], []);
    return result;
  }

  it('removes a half-built restore and old data left beside the folder, and nothing else', async () => {
    const parent = path.join(work, 'leftovers');
    const target = path.join(parent, 'CA');
    await folderWith(target, 'current.txt', 'current');
    await folderWith(path.join(parent, `CA.restore-${HEX}`, 'locked'), 'half.txt', 'half');
    await chmod(path.join(parent, `CA.restore-${HEX}`, 'locked'), 0o555);
    await folderWith(path.join(parent, 'CA.old-fedcba987654'), 'older.txt', 'older');
    for (const name of LOOK_ALIKES) await writeFile(path.join(parent, name), 'not ours');
    await restoreAndRemove(target);
    assert.deepEqual(withoutTimes(await describeTree(target)), withoutTimes(await describeTree(source)));
    assert.deepEqual(await besides(target), [...LOOK_ALIKES].sort());
  });

  it('finishes a restore killed between its two renames: the folder missing, its data in .old-', async () => {
    const parent = path.join(work, 'between-renames');
    const target = path.join(parent, 'CA');
    const aside = path.join(parent, `CA.old-${HEX}`);
    await folderWith(aside, 'previous.txt', 'previous');
    await folderWith(path.join(parent, `CA.restore-${HEX}`), 'half.txt', 'half');
    await assert.rejects(
      collect(directory.snapshot(role(target), context())),
      (error) =>
        isAzsError(error, 'RoleFailed') &&
        error.message.includes(`'${aside}' holds the data from before that restore`),
      'a backup in this state fails and names the folder holding the data',
    );
    await restoreAndRemove(target);
    assert.deepEqual(withoutTimes(await describeTree(target)), withoutTimes(await describeTree(source)));
    assert.deepEqual(await besides(target), []);
  });

  it('finishes removing a tree whose removal was cut short, and never takes it for previous data', async () => {
    const parent = path.join(work, 'removal-cut-short');
    const target = path.join(parent, 'CA');
    await folderWith(path.join(parent, `CA.removing-${HEX}`, 'sub'), 'rest.txt', 'what was not removed yet');
    await assert.rejects(
      collect(directory.snapshot(role(target), context())),
      (error) => isAzsError(error, 'RoleFailed') && !error.message.includes('.removing-'),
      'a tree being removed is not the data from before an interrupted restore',
    );
    const result = await restoreAndRemove(target);
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(withoutTimes(await describeTree(target)), withoutTimes(await describeTree(source)));
    assert.deepEqual(await besides(target), []);
  });

  it('puts the previous data back first, so a restore that then fails leaves it in place', async () => {
    const parent = path.join(work, 'failing-again');
    const target = path.join(parent, 'CA');
    await folderWith(path.join(parent, `CA.old-${HEX}`), 'previous.txt', 'previous');
    async function* broken(): AsyncGenerator<ExtractedEntry> {
      const content = new Readable({
        read() {
          this.destroy(new Error('hash mismatch in cert.json'));
        },
      });
      yield { path: 'cert.json', type: 'file', mode: 0o644, mtimeMs: Date.now(), size: 4, content };
    }
    await assert.rejects(directory.restore(role(target), broken(), context()), /hash mismatch/);
    assert.equal(await readFile(path.join(target, 'previous.txt'), 'utf8'), 'previous');
    assert.deepEqual(await besides(target), []);
  });

  it('refuses to guess when the folder is missing and several .old- folders hold earlier data', async () => {
    const parent = path.join(work, 'ambiguous');
    const target = path.join(parent, 'CA');
    const olds = [`CA.old-${HEX}`, 'CA.old-ba9876543210'].sort();
    for (const name of olds) await folderWith(path.join(parent, name), 'data.txt', name);
    await assert.rejects(
      directory.restore(role(target), await backupEntries(), context()),
      (error) => isAzsError(error, 'RoleFailed') && olds.every((name) => error.message.includes(name)),
    );
    assert.deepEqual(await besides(target), olds);
  });

  it('clears a leftover holding read-only folders as a user who is not root', async (t) => {
    if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/runuser')) return t.skip('needs root and runuser');
    const parent = path.join(work, 'unprivileged');
    const target = path.join(parent, 'CA');
    await folderWith(target, 'current.txt', 'current');
    const locked = path.join(parent, `CA.old-${HEX}`, 'locked');
    await folderWith(locked, 'inside.txt', 'inside');
    await chmod(locked, 0o555);
    execFileSync('chown', ['-R', 'nobody', parent]);
    await chmod(work, 0o755);
    // The unprivileged user may not be able to reach this checkout: it runs a copy of the code.
    const code = path.join(work, 'code');
    await cp(fileURLToPath(new URL('../../src', import.meta.url)), path.join(code, 'src'), {
      recursive: true,
    });
    await writeFile(path.join(code, 'package.json'), JSON.stringify({ type: 'module' }));
    const swap = pathToFileURL(path.join(code, 'src', 'roles', 'swap.js')).href;
    const script = `import(${JSON.stringify(swap)}).then((m) => m.clearInterruptedSwap(${JSON.stringify(target)}))`;
    execFileSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', script], { stdio: 'pipe' });
    assert.deepEqual(await besides(target), []);
    assert.equal(await readFile(path.join(target, 'current.txt'), 'utf8'), 'current');
  });

  it('removes a database copy and its journal files left by an interrupted Sqlite restore', async () => {
    const parent = path.join(work, 'sqlite');
    await mkdir(parent);
    const target = path.join(parent, 'CA');
    const db = new Database(target);
    db.exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept')");
    db.close();
    const entries = await collect(sqlite.snapshot(role(target, 'Sqlite'), context()));
    const leftovers = ['', '-wal', '-shm', '-journal'].map((suffix) => `CA.restore-${HEX}${suffix}`);
    for (const name of [...leftovers, ...LOOK_ALIKES]) await writeFile(path.join(parent, name), 'stale');
    await sqlite.restore(role(target, 'Sqlite'), replay(entries), context());
    const restored = new Database(target, { readonly: true });
    assert.equal(restored.prepare('SELECT v FROM t').pluck().get(), 'kept');
    restored.close();
    assert.deepEqual(await besides(target), LOOK_ALIKES.filter((name) => !leftovers.includes(name)).sort());
  });
});
