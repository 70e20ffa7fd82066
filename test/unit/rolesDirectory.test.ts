import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  appendFile,
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  truncate,
  utimes,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { ArchiveEntry, ExtractedEntry } from '../../src/archive/entry.js';
import { isAzsError } from '../../src/protocol/errors.js';
import { DirectoryProvider, providerFor, writeTree } from '../../src/roles/index.js';
import { WHOLE_READ_LIMIT, walkTree } from '../../src/roles/treeWalker.js';
import {
  asExtracted,
  collect,
  contentOf,
  dataRole,
  describeTree,
  replay,
  timeDifferences,
  withoutTimes,
} from '../helpers/roleEntries.js';

const provider = new DirectoryProvider();
const context = (stagingDir: string) => ({ stagingDir, signal: new AbortController().signal });

const role = (folder: string) => dataRole(folder, 'Directory', 'WAS');

const past = (days: number) => new Date(Date.UTC(2020, 0, 1) + days * 86_400_000 + 123.456);

/** A tree with everything a Directory role must keep; folder times are set last, as a writer would leave them. */
async function buildSourceTree(root: string): Promise<void> {
  await writeFile(path.join(root, 'a.txt'), 'hello\n');
  await writeFile(path.join(root, 'empty'), '');
  await writeFile(path.join(root, 'big.bin'), randomBytes(3 * 1024 * 1024 + 17));
  await chmod(path.join(root, 'big.bin'), 0o640);
  await writeFile(path.join(root, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  await mkdir(path.join(root, 'empty-folder'), { mode: 0o700 });
  await mkdir(path.join(root, 'd1', 'd2', 'd3'), { recursive: true });
  await writeFile(path.join(root, 'd1', 'd2', 'd3', 'deep.txt'), 'deep');
  await mkdir(path.join(root, 'ünïcødé'));
  await writeFile(path.join(root, 'ünïcødé', '日本語 ファイル 🚀.txt'), 'ユニコード');
  await symlink('a.txt', path.join(root, 'link-relative'));
  await symlink('/nonexistent/target', path.join(root, 'link-dangling'));
  await symlink('d1', path.join(root, 'link-to-folder'));
  const long = path.join(root, ...Array.from({ length: 10 }, (_, level) => `${level}`.padEnd(120, 'x')));
  await mkdir(long, { recursive: true });
  await writeFile(path.join(long, 'n'.repeat(251) + '.txt'), 'long path');
  await mkdir(path.join(root, 'read-only'));
  await writeFile(path.join(root, 'read-only', 'inside.txt'), 'inside', { mode: 0o444 });
  await utimes(path.join(root, 'a.txt'), past(1), past(2));
  await utimes(path.join(root, 'd1', 'd2', 'd3', 'deep.txt'), past(3), past(4));
  await chmod(path.join(root, 'read-only'), 0o555);
  await utimes(path.join(root, 'd1', 'd2'), past(5), past(6));
  await utimes(path.join(root, 'empty-folder'), past(7), past(8));
}

async function snapshotAsExtracted(folder: string): Promise<AsyncIterable<ExtractedEntry>> {
  return asExtracted(provider.snapshot(role(folder), context(folder)));
}

async function* fromList(entries: ExtractedEntry[]): AsyncGenerator<ExtractedEntry> {
  yield* entries;
}

async function siblings(folder: string): Promise<string[]> {
  return (await readdir(path.dirname(folder))).filter((name) => name.startsWith(`${path.basename(folder)}.`));
}

describe('Directory provider', () => {
  let work: string;
  let source: string;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'azs-roles-dir-'));
    source = path.join(work, 'source');
    await mkdir(source);
    await buildSourceTree(source);
  });
  after(async () => {
    await chmod(path.join(source, 'read-only'), 0o755).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });

  it('is what providerFor gives for Directory', () => {
    assert.ok(providerFor('Directory') instanceof DirectoryProvider);
  });

  it('round-trips a tree byte for byte into a folder that does not exist yet', async () => {
    const target = path.join(work, 'fresh', 'deployment', 'WAS');
    await provider.restore(role(target), await snapshotAsExtracted(source), context(work));
    const [expected, actual] = [await describeTree(source), await describeTree(target)];
    assert.deepEqual(withoutTimes(actual), withoutTimes(expected));
    assert.deepEqual(timeDifferences(actual, expected), []);
    assert.deepEqual(await siblings(target), []);
  });

  it('replaces existing data completely and leaves no sibling folders', async () => {
    const target = path.join(work, 'existing');
    await mkdir(path.join(target, 'stale'), { recursive: true });
    await writeFile(path.join(target, 'stale', 'old.txt'), 'old');
    await writeFile(path.join(target, 'a.txt'), 'different');
    const result = await provider.restore(role(target), await snapshotAsExtracted(source), context(work));
    assert.deepEqual(withoutTimes(await describeTree(target)), withoutTimes(await describeTree(source)));
    assert.deepEqual(await result.removePreviousData?.(), []);
    assert.deepEqual(await siblings(target), []);
  });

  it('yields folders before their contents, names sorted, links as links', async () => {
    const paths: string[] = [];
    for await (const entry of walkTree(source)) paths.push(entry.path);
    for (const [index, entryPath] of paths.entries()) {
      const parent = path.posix.dirname(entryPath);
      if (parent !== '.') assert.ok(paths.indexOf(parent) < index, `${parent} comes before ${entryPath}`);
    }
    const topLevel = paths.filter((entryPath) => !entryPath.includes('/'));
    assert.deepEqual(topLevel, [...topLevel].sort());
    assert.ok(
      !paths.some((entryPath) => entryPath.startsWith('link-to-folder/')),
      'a link to a folder is not followed',
    );
  });

  it('gives a file the size it had when its entry was made, even if it grows or shrinks later', async () => {
    // Above WHOLE_READ_LIMIT the content is read from the descriptor opened for the header: growth
    // is cut, shrinking fails. Smaller files are read whole when their entry is made (test below).
    const large = WHOLE_READ_LIMIT + 1;
    const folder = await mkdtemp(path.join(work, 'changing-'));
    await writeFile(path.join(folder, 'grows'), Buffer.alloc(large, 'a'));
    await writeFile(path.join(folder, 'shrinks'), Buffer.alloc(large, 'b'));
    const entries = walkTree(folder);
    const grows = (await entries.next()).value as ArchiveEntry;
    await appendFile(path.join(folder, 'grows'), 'more data');
    assert.equal(grows.size, large);
    assert.deepEqual(await contentOf(grows), Buffer.alloc(large, 'a'));
    const shrinks = (await entries.next()).value as ArchiveEntry;
    await truncate(path.join(folder, 'shrinks'), 2);
    assert.equal(shrinks.size, large);
    await assert.rejects(
      contentOf(shrinks),
      (error) => isAzsError(error, 'RoleFailed') && /shrank/.test(error.message),
    );
    assert.equal((await entries.next()).done, true);
  });

  it('takes the content of a small file when its entry is made: later changes do not mix in', async () => {
    const folder = await mkdtemp(path.join(work, 'changing-small-'));
    await writeFile(path.join(folder, 'grows'), 'abc');
    await writeFile(path.join(folder, 'shrinks'), 'abcdef');
    const entries = walkTree(folder);
    const grows = (await entries.next()).value as ArchiveEntry;
    await appendFile(path.join(folder, 'grows'), 'more data');
    assert.equal(grows.size, 3);
    assert.equal((await contentOf(grows))?.toString(), 'abc');
    const shrinks = (await entries.next()).value as ArchiveEntry;
    await truncate(path.join(folder, 'shrinks'), 2);
    assert.equal(shrinks.size, 6);
    assert.equal((await contentOf(shrinks))?.toString(), 'abcdef');
    assert.equal((await entries.next()).done, true);
  });

  it('listing small files, opens one only when its content is wanted, and stores it as it is then', async () => {
    const folder = await mkdtemp(path.join(work, 'changing-small-'));
    await writeFile(path.join(folder, 'grows'), 'abc');
    await writeFile(path.join(folder, 'shrinks'), 'abcdef');
    await writeFile(path.join(folder, 'goes'), 'abc');
    await writeFile(path.join(folder, 'large'), 'abc');
    await writeFile(path.join(folder, 'linked'), 'abc');
    const listed: ArchiveEntry[] = [];
    for await (const entry of walkTree(folder, { listSmallFiles: true })) listed.push(entry);
    assert.deepEqual(
      listed.map((entry) => [entry.path, entry.size, typeof entry.open, entry.readInto]),
      ['goes', 'grows', 'large', 'linked', 'shrinks'].map((name) => [
        name,
        name === 'shrinks' ? 6 : 3,
        'function',
        undefined,
      ]),
    );
    const [goes, grows, large, linked, shrinks] = listed as [
      ArchiveEntry,
      ArchiveEntry,
      ArchiveEntry,
      ArchiveEntry,
      ArchiveEntry,
    ];
    await appendFile(path.join(folder, 'grows'), 'more data');
    await truncate(path.join(folder, 'shrinks'), 2);
    await rm(path.join(folder, 'goes'));
    await appendFile(path.join(folder, 'large'), Buffer.alloc(WHOLE_READ_LIMIT, 'x'));
    await rm(path.join(folder, 'linked'));
    await symlink('grows', path.join(folder, 'linked'));
    assert.equal(goes.open!(), null);
    const grown = grows.open!()!;
    assert.equal(grown.size, 12);
    assert.equal((await contentOf(grown))?.toString(), 'abcmore data');
    const shrunk = shrinks.open!()!;
    assert.equal(shrunk.size, 2);
    assert.equal((await contentOf(shrunk))?.toString(), 'ab');
    const link = linked.open!()!;
    assert.deepEqual([link.type, link.linkTarget], ['symlink', 'grows']);
    const larger = large.open!()!;
    assert.equal(larger.size, 3 + WHOLE_READ_LIMIT);
    assert.deepEqual(
      await contentOf(larger),
      Buffer.concat([Buffer.from('abc'), Buffer.alloc(WHOLE_READ_LIMIT, 'x')]),
    );
  });

  it('refuses entries that would leave the folder and leaves the current data untouched', async () => {
    const target = path.join(work, 'guarded');
    await mkdir(target);
    await writeFile(path.join(target, 'keep.txt'), 'current');
    const before = await describeTree(target);
    const file = (entryPath: string): ExtractedEntry => ({
      path: entryPath,
      type: 'file',
      mode: 0o644,
      mtimeMs: Date.now(),
      size: 4,
      content: Readable.from([Buffer.from('evil')]),
    });
    const outside = path.join(work, 'outside');
    await mkdir(outside);
    const attempts: ExtractedEntry[][] = [
      [file('fine.txt'), file('../escaped.txt')],
      [file('/etc/absolute.txt')],
      [file('a/./b.txt')],
      [
        { path: 'link', type: 'symlink', mode: 0o777, mtimeMs: Date.now(), size: 0, linkTarget: outside },
        file('link/through.txt'),
      ],
      [file('twice.txt'), file('twice.txt')],
    ];
    for (const entries of attempts) {
      await assert.rejects(
        provider.restore(role(target), fromList(entries), context(work)),
        (error) => isAzsError(error, 'BackupCorrupt'),
        entries.map((entry) => entry.path).join(', '),
      );
      assert.deepEqual(await describeTree(target), before);
      assert.deepEqual(await siblings(target), []);
    }
    assert.deepEqual(await readdir(outside), []);
    assert.ok(!(await readdir(work)).includes('escaped.txt'));
  });

  it('leaves the current data untouched when the backup stream fails midway', async () => {
    const target = path.join(work, 'interrupted');
    await mkdir(target);
    await writeFile(path.join(target, 'keep.txt'), 'current');
    const before = await describeTree(target);
    async function* failing(): AsyncGenerator<ExtractedEntry> {
      yield {
        path: 'first.txt',
        type: 'file',
        mode: 0o644,
        mtimeMs: Date.now(),
        size: 3,
        content: Readable.from([Buffer.from('one')]),
      };
      const broken = new Readable({
        read() {
          this.destroy(new Error('hash mismatch in first.bin'));
        },
      });
      yield { path: 'second.bin', type: 'file', mode: 0o644, mtimeMs: Date.now(), size: 10, content: broken };
    }
    await assert.rejects(provider.restore(role(target), failing(), context(work)), /hash mismatch/);
    assert.deepEqual(await describeTree(target), before);
    assert.deepEqual(await siblings(target), []);
  });

  it('refuses a file whose content is shorter than its recorded size', async () => {
    const target = path.join(work, 'short');
    const entries = replay([
      { path: 'f', type: 'file', mode: 0o644, mtimeMs: Date.now(), size: 10, data: Buffer.from('abc') },
    ]);
    await assert.rejects(provider.restore(role(target), entries, context(work)), (error) =>
      isAzsError(error, 'BackupCorrupt'),
    );
    await assert.rejects(readdir(target), { code: 'ENOENT' });
  });

  it('writeTree writes entries into a new folder (what extract uses for PowerShell roles)', async () => {
    const entries = await collect(walkTree(path.join(source, 'd1')));
    const out = path.join(work, 'extract', 'Role');
    await writeTree(replay(entries), out);
    assert.equal(await readFile(path.join(out, 'd2', 'd3', 'deep.txt'), 'utf8'), 'deep');
  });

  it('validates that Path is an existing folder', async () => {
    await provider.validate(role(source));
    await assert.rejects(provider.validate(role(path.join(work, 'missing'))), (error) =>
      isAzsError(error, 'PathNotFound'),
    );
    await assert.rejects(provider.validate(role(path.join(source, 'a.txt'))), (error) =>
      isAzsError(error, 'InvalidParameter'),
    );
  });

  it('fails the role when its folder is gone at backup time', async () => {
    await assert.rejects(collect(provider.snapshot(role(path.join(work, 'gone')), context(work))), (error) =>
      isAzsError(error, 'RoleFailed'),
    );
  });
});
