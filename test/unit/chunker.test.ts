import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  CHUNK_SIZES,
  CutSelector,
  SCAN_CONTEXT_BYTES,
  cutMasks,
  gearTable,
  scanCuts,
  type ChunkSizes,
  type CutMasks,
} from '../../src/repository/chunker.js';
import { ChunkBuffers } from '../../src/repository/chunkBuffers.js';
import { ChunkPool } from '../../src/repository/chunkPool.js';
import { StreamChunker } from '../../src/repository/streamChunker.js';

/** The scan as plain JavaScript, as the format defines it: the oracle for the WebAssembly one. */
function referenceScan(gear: Int32Array, masks: CutMasks, context: Uint8Array, data: Uint8Array): Int32Array {
  let hash = 0;
  for (const byte of context) hash = ((hash << 1) + gear[byte]!) | 0;
  const found: number[] = [];
  data.forEach((byte, i) => {
    hash = ((hash << 1) + gear[byte]!) | 0;
    if ((hash & masks.loose) === 0) found.push((i + 1) * 2 + ((hash & masks.strict) === 0 ? 1 : 0));
  });
  return Int32Array.from(found);
}

const randomInt = (below: number) => Math.floor(Math.random() * below);

/** Masks for a 64-byte average: a cut candidate every 16 bytes or so, strict ones every 256. */
const denseMasks = cutMasks({ min: 16, average: 64, max: 256 });

/** The cut candidates of `data` scanned in blocks of `blockSize`, as offsets from its start. */
function scanInBlocks(gear: Int32Array, masks: CutMasks, data: Uint8Array, blockSize: number): number[] {
  const found: number[] = [];
  for (let start = 0; start < data.length; start += blockSize) {
    const context = data.subarray(Math.max(0, start - SCAN_CONTEXT_BYTES), start);
    const block = data.subarray(start, start + blockSize);
    for (const candidate of scanCuts(gear, masks, context, block)) found.push(start * 2 + candidate);
  }
  return found;
}

/** Where the chunks of `data` end, scanned and selected in blocks of 1 MiB. */
function chunkEnds(gear: Int32Array, data: Uint8Array, sizes: ChunkSizes = CHUNK_SIZES): number[] {
  const selector = new CutSelector(sizes);
  const masks = cutMasks(sizes);
  const ends: number[] = [];
  const blockSize = 1024 * 1024;
  for (let start = 0; start < data.length; start += blockSize) {
    const context = data.subarray(Math.max(0, start - SCAN_CONTEXT_BYTES), start);
    const block = data.subarray(start, start + blockSize);
    ends.push(...selector.next(scanCuts(gear, masks, context, block), block.length));
  }
  ends.push(...selector.finish());
  return ends;
}

function chunkLengths(ends: number[]): number[] {
  return ends.map((end, index) => end - (ends[index - 1] ?? 0));
}

test('the scan finds the same candidates as the reference, for random data and contexts', () => {
  const lengths = [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 1000, 4097, 65_536, 100_003];
  for (let round = 0; round < 200; round += 1) {
    const gear = gearTable(randomBytes(32));
    const masks =
      round % 2 === 0 ? denseMasks : cutMasks({ min: 1, average: 1 << (4 + randomInt(12)), max: 2 });
    const context = randomBytes(randomInt(SCAN_CONTEXT_BYTES + 1));
    const data = randomBytes(lengths[round % lengths.length]! + randomInt(3));
    const label = `context ${context.length}, data ${data.length}`;
    assert.deepEqual(scanCuts(gear, masks, context, data), referenceScan(gear, masks, context, data), label);
  }
});

test('the scan matches the reference on a full block with the real masks', () => {
  const gear = gearTable(randomBytes(32));
  const masks = cutMasks();
  const data = randomBytes(1024 * 1024 + 5);
  const context = randomBytes(SCAN_CONTEXT_BYTES);
  const found = scanCuts(gear, masks, context, data);
  assert.ok(found.length > 0);
  assert.deepEqual(found, referenceScan(gear, masks, context, data));
});

test('every position can be a candidate (a table of zeros): the scan has room for them all', () => {
  const gear = new Int32Array(256);
  const data = randomBytes(300_001);
  const found = scanCuts(gear, cutMasks(), randomBytes(7), data);
  assert.equal(found.length, data.length);
  assert.deepEqual(found, referenceScan(gear, cutMasks(), randomBytes(7), data));
});

test('scanning a stream in blocks of any size gives the candidates of one scan', () => {
  const gear = gearTable(randomBytes(32));
  const data = randomBytes(100_000);
  const whole = Array.from(scanCuts(gear, denseMasks, new Uint8Array(0), data));
  for (const blockSize of [
    1,
    2,
    7,
    31,
    32,
    33,
    1000,
    4096,
    65_537,
    299_999,
    300_000,
    1 + randomInt(50_000),
  ]) {
    assert.deepEqual(scanInBlocks(gear, denseMasks, data, blockSize), whole, `blocks of ${blockSize}`);
  }
});

test('no chunk is shorter than the minimum but the last, none longer than the maximum', () => {
  const gear = gearTable(randomBytes(32));
  const sizes = { min: 4096, average: 16_384, max: 65_536 };
  for (const data of [randomBytes(3 * 1024 * 1024 + 123), new Uint8Array(1024 * 1024 + 1)]) {
    const ends = chunkEnds(gear, data, sizes);
    const lengths = chunkLengths(ends);
    assert.equal(ends.at(-1), data.length);
    assert.ok(lengths.slice(0, -1).every((length) => length >= sizes.min));
    assert.ok(lengths.every((length) => length > 0 && length <= sizes.max));
  }
});

test('after 100 bytes inserted in the middle of 8 MiB, the cuts realign: at most 3 chunks change', () => {
  const gear = gearTable(randomBytes(32));
  const before = randomBytes(8 * 1024 * 1024);
  const middle = before.length / 2;
  const after = Buffer.concat([before.subarray(0, middle), randomBytes(100), before.subarray(middle)]);
  const chunks = (data: Buffer) => {
    const ends = chunkEnds(gear, data);
    return ends.map((end, index) =>
      createHash('sha256')
        .update(data.subarray(ends[index - 1] ?? 0, end))
        .digest('hex'),
    );
  };
  const old = new Set(chunks(before));
  const changed = chunks(after).filter((chunk) => !old.has(chunk));
  assert.ok(old.size > 10, `${old.size} chunks`);
  assert.ok(changed.length >= 1 && changed.length <= 3, `${changed.length} chunks changed`);
});

test('in the worker threads (StreamChunker), the chunks are those of a scan in this thread', async () => {
  const gear = gearTable(randomBytes(32));
  const data = randomBytes(5 * 1024 * 1024 + 77);
  const pool = new ChunkPool(2);
  try {
    const lengths: number[] = [];
    const chunker = new StreamChunker(
      pool,
      gear,
      (chunk) => lengths.push(chunk.length),
      () => undefined,
      new ChunkBuffers(CHUNK_SIZES),
    );
    for (let start = 0; start < data.length; start += 1024 * 1024) {
      await chunker.push(Buffer.from(data.subarray(start, start + 1024 * 1024)));
    }
    await chunker.finish();
    assert.deepEqual(lengths, chunkLengths(chunkEnds(gear, data)));
  } finally {
    await pool.close();
  }
});

test('a mark cuts where it says, inside a block or at its end, and is reached between the chunks on either side', async () => {
  const gear = gearTable(randomBytes(32));
  const data = randomBytes(3 * 1024 * 1024 + 5);
  const marks = [0, 1000, 1000, 70_000, 1024 * 1024, 1024 * 1024 + 1, 2_500_000, data.length];
  const pool = new ChunkPool(2);
  try {
    const ends: number[] = [];
    const reached: Array<[number, number]> = [];
    const chunker = new StreamChunker(
      pool,
      gear,
      (chunk) => ends.push((ends.at(-1) ?? 0) + chunk.length),
      () => undefined,
      new ChunkBuffers(CHUNK_SIZES),
    );
    const pending = [...marks];
    for (let start = 0; start < data.length; start += 1024 * 1024) {
      // Each mark is made before the block it falls in goes out (as the record writer does).
      while (pending.length && pending[0]! < start + 1024 * 1024) {
        const offset = pending.shift()!;
        chunker.mark(offset, () => reached.push([offset, ends.at(-1) ?? 0]));
      }
      await chunker.push(Buffer.from(data.subarray(start, start + 1024 * 1024)));
    }
    for (const offset of pending) chunker.mark(offset, () => reached.push([offset, ends.at(-1) ?? 0]));
    await chunker.finish();
    assert.deepEqual(
      reached,
      marks.map((offset) => [offset, offset]),
      'each mark reached once every chunk before it ended, none after',
    );
    for (const offset of marks.filter(Boolean)) assert.ok(ends.includes(offset), `no cut at ${offset}`);
    assert.ok(chunkLengths(ends).every((length) => length > 0 && length <= CHUNK_SIZES.max));
    assert.equal(ends.at(-1), data.length);
  } finally {
    await pool.close();
  }
});

test('a chunk is cut into the smallest buffer that holds it (ChunkBuffers), and a buffer given back is reused', () => {
  const buffers = new ChunkBuffers(CHUNK_SIZES);
  const KiB = 1024;
  const sizeFor = (length: number) => {
    const chunk = buffers.take(length);
    assert.equal(chunk.length, length);
    assert.equal(chunk.byteOffset, 0);
    return chunk.buffer.byteLength / KiB;
  };
  assert.deepEqual(
    [1, 16 * KiB, 16 * KiB + 1, 64 * KiB, 100 * KiB, 129 * KiB, 256 * KiB].map(sizeFor),
    [16, 16, 32, 64, 128, 256, 256],
  );
  const chunk = buffers.take(40 * KiB);
  buffers.give(Buffer.from(chunk.buffer));
  assert.equal(buffers.take(33 * KiB).buffer, chunk.buffer);
  assert.notEqual(buffers.take(33 * KiB).buffer, chunk.buffer);
});
