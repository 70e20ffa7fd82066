/**
 * Unbuffered writes and read-back: every length comes back exactly (the padding to the block
 * alignment is cut off), and the unbuffered digest reads it whole.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { DirectFileSink } from '../../src/util/directFileSink.js';
import { DIRECT_CHUNK_BYTES, createDirect } from '../../src/util/directIo.js';
import { digestLocalFile } from '../../src/storage/localDigest.js';

const folder = mkdtempSync(path.join(tmpdir(), 'azs-direct-'));
after(() => rmSync(folder, { recursive: true, force: true }));

/** `data` cut into pieces of awkward sizes, as a stream of frames would be. */
function pieces(data: Buffer): Buffer[] {
  const cuts: Buffer[] = [];
  for (let offset = 0, step = 1; offset < data.length; offset += step, step = (step * 7 + 13) % 300_000)
    cuts.push(data.subarray(offset, offset + step));
  return cuts;
}

test('files of every awkward length are written exactly and digested whole, unbuffered', async (t) => {
  const probe = await createDirect(path.join(folder, 'probe'));
  if (!probe) return t.skip('this file system refuses O_DIRECT'); // not so on the test machines (ext4)
  await probe.close();
  const lengths = [
    0,
    1,
    4095,
    4096,
    4097,
    DIRECT_CHUNK_BYTES,
    DIRECT_CHUNK_BYTES + 1,
    5 * DIRECT_CHUNK_BYTES + 123,
  ];
  for (const length of lengths) {
    const data = randomBytes(length);
    const file = path.join(folder, `file-${length}`);
    const handle = (await createDirect(file))!;
    const sink = new DirectFileSink(handle);
    await pipeline(Readable.from(pieces(data)), sink);
    assert.equal(handle.fd, -1, 'the sink closed its file');
    assert.equal(sink.bytesWritten, length);
    assert.equal(statSync(file).size, length, `${length} bytes: no padding left`);
    assert.ok(readFileSync(file).equals(data), `${length} bytes come back`);
    assert.deepEqual(await digestLocalFile(file, { direct: true }), {
      size: length,
      sha256: createHash('sha256').update(data).digest('hex'),
      crc32: crc32(data),
    });
  }
});

test('a new file is never opened over an existing one', async () => {
  const file = path.join(folder, 'taken');
  await (await createDirect(file))?.close();
  await assert.rejects(createDirect(file), { code: 'EEXIST' });
});
