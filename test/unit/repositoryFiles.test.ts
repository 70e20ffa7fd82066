/**
 * Reading a stored file whole (src/repository/files.ts): the pieces a store reads, end to end, and
 * the file refused past its limit or when it is not what its name says.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { isAzsError } from '../../src/protocol/errors.js';
import { type RepositoryFiles, readWhole } from '../../src/repository/files.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A store holding one file, read in pieces of `piece` bytes. */
function storeOf(content: Buffer, piece: number): RepositoryFiles {
  return {
    readFile: () => {
      const pieces: Buffer[] = [];
      for (let at = 0; at < content.length; at += piece) pieces.push(content.subarray(at, at + piece));
      return Promise.resolve(Readable.from(pieces));
    },
    list: () => Promise.resolve([]),
  };
}

test('a file read whole is its bytes, however the store cuts it, and an empty file is empty', async () => {
  const content = randomBytes(300_000);
  for (const piece of [1, 7_000, content.length, content.length + 1]) {
    const read = await readWhole(storeOf(content, piece), 'f', sha256(content), content.length);
    assert.ok(read.equals(content), `pieces of ${piece} bytes`);
  }
  const empty = Buffer.alloc(0);
  assert.equal((await readWhole(storeOf(empty, 1), 'f', sha256(empty), 10)).length, 0);
});

test('every piece is reported as it is read', async () => {
  const content = randomBytes(10_000);
  const reported: number[] = [];
  await readWhole(storeOf(content, 4_000), 'f', sha256(content), 20_000, (bytes) => reported.push(bytes));
  assert.deepEqual(reported, [4_000, 4_000, 2_000]);
});

test('a file longer than its limit, or other than its name says, is refused as damaged', async () => {
  const content = randomBytes(5_000);
  await assert.rejects(
    readWhole(storeOf(content, 1_000), 'packs/x', sha256(content), 4_999),
    (error) => isAzsError(error, 'BackupCorrupt') && /longer than 4999 bytes/.test(error.message),
  );
  assert.ok((await readWhole(storeOf(content, 1_000), 'f', sha256(content), 5_000)).equals(content));
  await assert.rejects(
    readWhole(storeOf(content, 1_000), 'packs/x', sha256(Buffer.from('other')), 10_000),
    (error) => isAzsError(error, 'BackupCorrupt') && /SHA-256/.test(error.message),
  );
});
