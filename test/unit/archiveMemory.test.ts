/**
 * Memory stays flat whatever the data size: 1 GiB through the writer, and through writer and reader
 * at once, may not grow the process (main thread and workers) by more than ~150 MB. A memory bound,
 * not a timing test. A small archive is written first so that the fixed costs (the worker threads,
 * about 25 MB, and the allocator's arenas) are in the baseline: what is measured is what the data adds.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { before, describe, it } from 'node:test';
import type { ArchiveEntry } from '../../src/archive/entry.js';
import { ROLE_FILE_VERSION, verifyRoleArchive, writeRoleArchive } from '../../src/archive/index.js';
import { FILE_ID, compressible, key } from './archiveFixtures.js';

const MiB = 1024 * 1024;
const TOTAL = 1024 * MiB;
const FILES = 4;
const RSS_GROWTH_LIMIT = 150 * 1000 * 1000;

/** Half fresh random data (stored raw), half compressible, produced as it is read. */
function generated(bytes: number, onChunk: () => void): Readable {
  const text = compressible(MiB);
  let produced = 0;
  return new Readable({
    read() {
      onChunk();
      if (produced >= bytes) return void this.push(null);
      this.push((produced / MiB) % 2 === 0 ? randomBytes(MiB) : text);
      produced += MiB;
    },
  });
}

async function* entries(onChunk: () => void, total = TOTAL): AsyncGenerator<ArchiveEntry> {
  for (let index = 0; index < FILES; index += 1) {
    const size = total / FILES;
    yield {
      path: `disk-${index}.vhd`,
      type: 'file',
      mode: 0o600,
      mtimeMs: 0,
      size,
      content: () => generated(size, onChunk),
    };
  }
}

/** Runs `work` while sampling RSS on every generated chunk; returns the peak growth in bytes. */
async function peakGrowth(work: (sample: () => void) => Promise<void>): Promise<number> {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  await work(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  });
  return peak - baseline;
}

async function writeToSink(source: AsyncIterable<ArchiveEntry>): Promise<number> {
  let written = 0;
  const { stream, summary } = writeRoleArchive(source, { key, fileId: FILE_ID });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.length;
      done();
    },
  });
  await pipeline(stream, sink);
  assert.equal((await summary).storedBytes, written);
  return written;
}

describe('role archive memory', () => {
  before(async () => {
    await writeToSink(entries(() => undefined, 32 * MiB));
  });

  it('writes 1 GiB into a sink with bounded memory', async (t) => {
    let written = 0;
    const growth = await peakGrowth(async (sample) => {
      written = await writeToSink(entries(sample));
    });
    assert.ok(written > TOTAL / 2, 'the random half is stored');
    t.diagnostic(`RSS growth ${(growth / 1e6).toFixed(0)} MB`);
    assert.ok(growth < RSS_GROWTH_LIMIT, `RSS grew by ${(growth / 1e6).toFixed(0)} MB`);
  });

  it('reads back and checks 1 GiB with bounded memory', async (t) => {
    const folder = await mkdtemp(path.join(tmpdir(), 'azs-archive-memory-'));
    t.after(() => rm(folder, { recursive: true, force: true }));
    const stored = path.join(folder, 'Images.azsb');
    await pipeline(
      writeRoleArchive(
        entries(() => undefined),
        { key, fileId: FILE_ID },
      ).stream,
      createWriteStream(stored),
    );
    const growth = await peakGrowth(async (sample) => {
      const source = createReadStream(stored).on('data', sample);
      assert.deepEqual(
        await verifyRoleArchive(source, { key, fileId: FILE_ID, formatVersion: ROLE_FILE_VERSION }),
        { ok: true },
      );
    });
    t.diagnostic(`RSS growth ${(growth / 1e6).toFixed(0)} MB`);
    assert.ok(growth < RSS_GROWTH_LIMIT, `RSS grew by ${(growth / 1e6).toFixed(0)} MB`);
  });
});
