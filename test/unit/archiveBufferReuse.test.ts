/**
 * Reading a role file reuses its plaintext block buffers (sealedBlocks.ts, PlaintextBuffers): a block
 * goes back to the workers only once the reader has passed it and every view lent to a consumer was
 * released. A reused block's buffer is handed to a worker thread, which detaches it here: views of it
 * then read as empty, which is how these tests see that a block was (or was not) reused.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { ROLE_FILE_VERSION, readRoleArchive } from '../../src/archive/index.js';
import { PlaintextBuffers } from '../../src/archive/sealedBlocks.js';
import { FILE_ID, compressible, file, key, writeToBuffer } from './archiveFixtures.js';

const BLOCK = 65_536;

/** Half random (stored raw), half compressible, over many blocks. */
const contents = new Map([
  ['raw.bin', randomBytes(12 * BLOCK + 123)],
  ['text.json', compressible(12 * BLOCK + 77)],
  ['small.txt', Buffer.from('a small file between large ones')],
  ['more.bin', randomBytes(8 * BLOCK)],
]);

async function stored(): Promise<Buffer> {
  const entries = [...contents].map(([path, data]) => file(path, data));
  return (await writeToBuffer(entries, { blockSize: BLOCK })).stored;
}

/**
 * Reads every entry, copying each content chunk; `keep` says whose chunks the consumer keeps (never
 * released), the others are released once copied. Returns the copies and the chunks themselves.
 */
async function readReleasing(
  bytes: Buffer,
  keep: (path: string) => boolean,
): Promise<{ copies: Map<string, Buffer>; chunks: Map<string, Buffer[]> }> {
  const copies = new Map<string, Buffer>();
  const chunks = new Map<string, Buffer[]>();
  const source = Readable.from([bytes.subarray(0, 100_000), bytes.subarray(100_000)]);
  for await (const entry of readRoleArchive(source, {
    key,
    fileId: FILE_ID,
    formatVersion: ROLE_FILE_VERSION,
  })) {
    const parts: Buffer[] = [];
    for await (const chunk of entry.content ?? []) {
      parts.push(chunk);
      const copy = Buffer.from(chunk);
      copies.set(entry.path, Buffer.concat([copies.get(entry.path) ?? Buffer.alloc(0), copy]));
      if (!keep(entry.path)) entry.release?.(chunk);
    }
    chunks.set(entry.path, parts);
  }
  return { copies, chunks };
}

/** Whether the next buffer `buffers` gives out is `block`'s. */
const reused = (buffers: PlaintextBuffers, block: Buffer) => buffers.take(BLOCK).buffer === block.buffer;

const detached = (chunks: Buffer[]) => chunks.filter((chunk) => chunk.length === 0).length;

describe('plaintext buffers reused while reading', () => {
  it('reuses the blocks whose views the consumer released, and the content stays exact', async () => {
    const { copies, chunks } = await readReleasing(await stored(), () => false);
    for (const [path, data] of contents) assert.ok(copies.get(path)?.equals(data), `content of ${path}`);
    const released = [...chunks.values()].flat();
    assert.ok(
      detached(released) > released.length / 2,
      `${detached(released)} of ${released.length} released chunks went back to the workers`,
    );
  });

  it('never reuses a block while a consumer still holds a view of it', async () => {
    const { chunks } = await readReleasing(await stored(), (path) => path === 'text.json');
    const kept = chunks.get('text.json')!;
    assert.equal(detached(kept), 0);
    assert.ok(
      Buffer.concat(kept).equals(contents.get('text.json')!),
      'the kept views still hold their bytes',
    );
    assert.ok(detached(chunks.get('more.bin')!) > 0, 'the other blocks were reused');
  });

  it('gives a block back only once it is passed and every lent view is released', () => {
    const buffers = new PlaintextBuffers();
    const block = buffers.take(BLOCK);
    buffers.track(block);
    const [first, second] = [block.subarray(0, 10), block.subarray(10, 20)];
    buffers.lend(first);
    buffers.lend(second);
    buffers.release(first);
    buffers.passed(block);
    assert.ok(!reused(buffers, block), 'one view is still lent');
    buffers.release(second);
    buffers.release(second); // a second release of the same view is not taken for another one
    assert.ok(reused(buffers, block));
    assert.ok(!reused(buffers, block), 'given back once only');
  });

  it('takes back nothing it did not give out, and nothing not passed yet', () => {
    const buffers = new PlaintextBuffers();
    const foreign = Buffer.allocUnsafeSlow(BLOCK);
    buffers.passed(foreign);
    const block = buffers.take(BLOCK);
    assert.ok(block.buffer !== foreign.buffer);
    buffers.track(block);
    assert.ok(!reused(buffers, block), 'the reader has not passed it');
    buffers.passed(block);
    assert.ok(reused(buffers, block));
  });
});
