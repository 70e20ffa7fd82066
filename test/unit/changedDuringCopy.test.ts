import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import type { ArchiveEntry } from '../../src/archive/entry.js';
import { writeRoleArchive } from '../../src/archive/index.js';
import { walkTree } from '../../src/roles/treeWalker.js';
import { contentOf } from '../helpers/roleEntries.js';

test('the walker says which files changed while they were copied', async () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'azs-changed-'));
  try {
    writeFileSync(path.join(folder, 'big.bin'), randomBytes(300_000));
    writeFileSync(path.join(folder, 'quiet.bin'), randomBytes(300_000));
    writeFileSync(path.join(folder, 'small.txt'), 'small\n');
    const changed: Record<string, boolean> = {};
    for await (const entry of walkTree(folder)) {
      if (entry.path === 'big.bin') appendFileSync(path.join(folder, 'big.bin'), 'written during the copy');
      await contentOf(entry);
      changed[entry.path] = entry.changedDuringCopy?.() ?? false;
    }
    assert.deepEqual(changed, { 'big.bin': true, 'quiet.bin': false, 'small.txt': false });
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});

test("the role archive's summary lists the files their provider reports changed", async () => {
  async function* entries(): AsyncGenerator<ArchiveEntry> {
    for (const [name, changed] of [
      ['a.txt', false],
      ['b.txt', true],
      ['c.txt', false],
    ] as const) {
      yield {
        path: name,
        type: 'file',
        mode: 0o644,
        mtimeMs: 0,
        size: 5,
        content: () => Readable.from([Buffer.from('hello')]),
        changedDuringCopy: () => changed,
      };
    }
  }
  const { stream, summary } = writeRoleArchive(entries(), { key: randomBytes(32), fileId: 'test/role' });
  await pipeline(stream, new Writable({ write: (_chunk, _encoding, done) => done() }));
  assert.deepEqual((await summary).changedDuringCopy, ['b.txt']);
});
