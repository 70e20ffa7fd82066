/**
 * The tree writer writes several files at once (treeWriter.ts): folder times still come last, files
 * of every size (small ones synchronously, large ones unbuffered) come out exact, a damaged entry
 * midway stops every write before the staging tree is removed, and the content it holds stays within
 * its byte budget.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { ExtractedEntry } from '../../src/archive/entry.js';
import { AzsError, isAzsError } from '../../src/protocol/errors.js';
import { DirectoryProvider } from '../../src/roles/index.js';
import { LIMITS, SMALL_FILE_BYTES, writeTree } from '../../src/roles/treeWriter.js';
import { DIRECT_CHUNK_BYTES } from '../../src/util/directIo.js';
import { type TreeRecord, dataRole, describeTree, timeDifferences } from '../helpers/roleEntries.js';

const KiB = 1024;
const when = (day: number) => Date.UTC(2021, 5, day, 12, 0, 0, 250);

/** A file entry whose content comes in `chunks` pieces, pulled one at a time (no read-ahead). */
function fileEntry(entryPath: string, data: Buffer, chunks = 1, onPull?: () => void): ExtractedEntry {
  const size = Math.ceil(data.length / chunks);
  let next = 0;
  const content = new Readable({
    highWaterMark: 0,
    read() {
      onPull?.();
      this.push(next < data.length ? data.subarray(next, (next += size)) : null);
    },
  });
  return { path: entryPath, type: 'file', mode: 0o640, mtimeMs: when(2), size: data.length, content };
}

function folderEntry(entryPath: string, mode: number, day: number): ExtractedEntry {
  return { path: entryPath, type: 'directory', mode, mtimeMs: when(day), size: 0 };
}

async function* fromList(entries: ExtractedEntry[]): AsyncGenerator<ExtractedEntry> {
  yield* entries;
}

/** Files this process has open below `folder` (Linux: /proc/self/fd). */
async function openFilesBelow(folder: string): Promise<string[]> {
  const links = await Promise.all(
    (await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')),
  );
  return links.filter((link) => link.startsWith(`${folder}/`));
}

/** Distinct content for file `index`. */
const dataOf = (index: number, bytes: number) => Buffer.alloc(bytes, `file ${index};`);

/** 40 files of 4 MiB, the 26th of which fails as damaged content does, while earlier ones are written. */
async function* damagedMidway(): AsyncGenerator<ExtractedEntry> {
  for (let index = 0; index < 40; index += 1) {
    if (index === 25) {
      const content = new Readable({
        read() {
          this.destroy(new AzsError('BackupCorrupt', 'block 7 fails authentication', { target: 'f25' }));
        },
      });
      yield { path: 'f25', type: 'file', mode: 0o644, mtimeMs: when(1), size: 10, content };
    } else yield fileEntry(`f${index}`, dataOf(index, 4 * 1024 * KiB), 8);
  }
}

describe('tree writer', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'azs-tree-writer-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('gives nested folders their modes and times only after every file inside them is written', async () => {
    const folders = ['a', 'a/b', 'a/b/c'];
    const entries: ExtractedEntry[] = [];
    const expected: TreeRecord[] = [];
    folders.forEach((folder, depth) => {
      entries.push(folderEntry(folder, 0o550 - depth * 0o10, 10 + depth));
      expected.push({
        path: folder,
        type: 'directory',
        mode: 0o550 - depth * 0o10,
        mtimeMs: when(10 + depth),
        data: '',
      });
      for (let index = 0; index < LIMITS.files * 3; index += 1) {
        const data = dataOf(index, 256 * KiB + index);
        const file = `${folder}/f${String(index).padStart(3, '0')}`;
        entries.push(fileEntry(file, data, 4));
        const hash = createHash('sha256').update(data).digest('hex');
        expected.push({ path: file, type: 'file', mode: 0o640, mtimeMs: when(2), data: hash });
      }
    });
    const out = path.join(work, 'nested');
    await writeTree(fromList(entries), out);
    const written = await describeTree(out);
    expected.sort((a, b) => (a.path < b.path ? -1 : 1));
    assert.deepEqual(
      written.map(({ mtimeMs: _t, ...rest }) => rest),
      expected.map(({ mtimeMs: _t, ...rest }) => rest),
    );
    assert.deepEqual(timeDifferences(written, expected), []);
  });

  it('writes empty, small and large files (unbuffered, padded, cut back) with exact length, content, mode and time', async () => {
    const sizes = [
      0,
      1,
      4 * KiB,
      SMALL_FILE_BYTES,
      SMALL_FILE_BYTES + 1,
      DIRECT_CHUNK_BYTES,
      2 * DIRECT_CHUNK_BYTES + 12_345,
    ];
    const entries = sizes.map((size, index) => fileEntry(`f${index}`, dataOf(index, size), size > 0 ? 7 : 1));
    const out = path.join(work, 'sizes');
    await writeTree(fromList(entries), out);
    const expected: TreeRecord[] = sizes.map((size, index) => ({
      path: `f${index}`,
      type: 'file',
      mode: 0o640,
      mtimeMs: when(2),
      data: createHash('sha256').update(dataOf(index, size)).digest('hex'),
    }));
    const written = await describeTree(out);
    assert.deepEqual(
      written.map(({ mtimeMs: _t, ...rest }) => rest),
      expected.map(({ mtimeMs: _t, ...rest }) => rest),
    );
    assert.deepEqual(timeDifferences(written, expected), []);
    assert.deepEqual(
      sizes.map((_, index) => statSync(path.join(out, `f${index}`)).size),
      sizes,
    );
  });

  it('stops every write when an entry midway is damaged, so the restore swaps nothing and leaves nothing', async () => {
    const staging = path.join(work, 'staging');
    await assert.rejects(writeTree(damagedMidway(), staging), (error) => isAzsError(error, 'BackupCorrupt'));
    assert.deepEqual(await openFilesBelow(staging), [], 'every write has ended when writeTree fails');

    const target = path.join(work, 'live');
    await mkdir(target);
    await writeFile(path.join(target, 'keep.txt'), 'current');
    const before = await describeTree(target);
    const provider = new DirectoryProvider();
    const context = { stagingDir: work, signal: new AbortController().signal };
    await assert.rejects(provider.restore(dataRole(target), damagedMidway(), context), (error) =>
      isAzsError(error, 'BackupCorrupt'),
    );
    assert.deepEqual(await describeTree(target), before);
    assert.deepEqual(
      (await readdir(work)).filter((name) => name.startsWith('live.')),
      [],
    );
  });

  it('holds no more content than its byte budget while files wait to be written', async () => {
    const limits = { files: 16, bytes: 1024 * KiB };
    const out = path.join(work, 'budget');
    const files = Array.from({ length: 24 }, (_, index) => ({
      path: `f${index}`,
      data: dataOf(index, 512 * KiB),
      handedOut: 0,
    }));
    let mostHeld = 0;
    /** Content handed out and not yet on disk: a lower bound of what the writer holds. */
    const measureHeld = () => {
      let held = 0;
      for (const file of files) {
        if (file.handedOut === 0) continue;
        held += file.handedOut - (statSync(path.join(out, file.path), { throwIfNoEntry: false })?.size ?? 0);
      }
      mostHeld = Math.max(mostHeld, held);
    };
    const chunks = 4;
    const entries = files.map((file) =>
      fileEntry(file.path, file.data, chunks, () => {
        measureHeld();
        file.handedOut = Math.min(file.data.length, file.handedOut + file.data.length / chunks);
      }),
    );
    await writeTree(fromList(entries), out, limits);
    assert.ok(mostHeld > 0, 'the measurement saw content waiting');
    // A Readable asks for one chunk ahead of its reader: that one is handed out, not yet taken.
    const bound = limits.bytes + (512 * KiB) / chunks;
    assert.ok(mostHeld <= bound, `${mostHeld} bytes were held, more than ${bound}`);
  });
});
