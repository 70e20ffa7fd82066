/** The block layer's plaintext side: bytes gathered into blocks, and content read straight into them. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { ArchiveEntry } from '../../src/archive/entry.js';
import { BlockBuffers, BlockFiller, type PlainBlock } from '../../src/archive/sealedBlocks.js';
import { isAzsError } from '../../src/protocol/errors.js';
import { readAll, writeToBuffer } from './archiveFixtures.js';

const BLOCK = 65_536;

/** Writes `pieces` through a filler, collecting every block it hands out. */
function blocksOf(pieces: Buffer[]): PlainBlock[] {
  const filler = new BlockFiller(new BlockBuffers(BLOCK));
  const blocks: PlainBlock[] = [];
  for (const piece of pieces) {
    filler.write(piece);
    blocks.push(...filler.takeReady().map((block) => ({ ...block, data: Buffer.from(block.data) })));
  }
  return [...blocks, ...filler.finish()];
}

/** A file entry whose content comes through readInto, at most `step` bytes a call, at once or later. */
function readIntoFile(path: string, content: Buffer, step: number, later = false): ArchiveEntry {
  let position = 0;
  const readInto = (target: Buffer) => {
    const count = content.copy(target, 0, position, Math.min(content.length, position + step));
    position += count;
    return count;
  };
  return {
    path,
    type: 'file',
    mode: 0o644,
    mtimeMs: 0,
    size: content.length,
    readInto: later
      ? (target) => new Promise((resolve) => setImmediate(() => resolve(readInto(target))))
      : readInto,
  };
}

describe('block filler', () => {
  it('cuts the bytes into full blocks and a final shorter one, whatever the pieces', () => {
    const data = randomBytes(3 * BLOCK + 100);
    for (const pieceSize of [1000, BLOCK, BLOCK + 1, data.length]) {
      const pieces = [];
      for (let offset = 0; offset < data.length; offset += pieceSize)
        pieces.push(data.subarray(offset, offset + pieceSize));
      const blocks = blocksOf(pieces);
      assert.deepEqual(
        blocks.map((block) => [block.data.length, block.final]),
        [
          [BLOCK, false],
          [BLOCK, false],
          [BLOCK, false],
          [100, true],
        ],
        `pieces of ${pieceSize}`,
      );
      assert.ok(Buffer.concat(blocks.map((block) => block.data)).equals(data));
    }
  });

  it('marks a last full block final rather than adding an empty one, and gives one empty final block for no data', () => {
    const exact = blocksOf([randomBytes(2 * BLOCK)]);
    assert.deepEqual(
      exact.map((block) => [block.data.length, block.final]),
      [
        [BLOCK, false],
        [BLOCK, true],
      ],
    );
    assert.deepEqual(
      blocksOf([]).map((block) => [block.data.length, block.final]),
      [[0, true]],
    );
  });
});

describe('content read straight into blocks', () => {
  it('round-trips files given through readInto (at once or later), across block boundaries', async () => {
    const contents = [randomBytes(5), randomBytes(BLOCK), randomBytes(3 * BLOCK + 7), Buffer.alloc(0)];
    const entries = contents.map((content, index) =>
      readIntoFile(`f${index}`, content, 10_000, index % 2 === 1),
    );
    const { stored } = await writeToBuffer(entries, { blockSize: BLOCK });
    const { entries: read, error } = await readAll(stored);
    assert.equal(error, undefined);
    assert.deepEqual(
      read.map((entry) => entry.path),
      ['f0', 'f1', 'f2', 'f3'],
    );
    read.forEach((entry, index) => assert.ok(entry.data?.equals(contents[index]!), entry.path));
  });

  it('fails with RoleFailed when readInto ends before the announced size', async () => {
    const short = { ...readIntoFile('short.bin', randomBytes(100), 30), size: 200 };
    await assert.rejects(writeToBuffer([short], { blockSize: BLOCK }), (error: unknown) => {
      assert.ok(isAzsError(error, 'RoleFailed'), String(error));
      assert.match(error.message, /200 bytes expected, 100 read/);
      return true;
    });
  });
});
