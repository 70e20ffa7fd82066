/**
 * The block layer of a role file: a byte stream cut into blocks, each compressed in the worker pool
 * (kept raw when that does not shrink it) and then encrypted in order on the calling thread; and
 * back. A few blocks are in flight at a time so both cores work while memory stays bounded.
 */
import { randomBytes } from 'node:crypto';
import {
  CHUNK_TAG_BYTES,
  FILE_SALT_BYTES,
  deriveFileKey,
  openChunk,
  sealChunk,
} from '../crypto/chunkCipher.js';
import { ByteReader } from './byteReader.js';
import type { CompressedBlock, CompressionPool } from './compressionPool.js';
import {
  FILE_HEADER_BYTES,
  FRAME_HEADER_BYTES,
  damaged,
  encodeFileHeader,
  encodeFrameHeader,
  parseFileHeader,
  parseFrameHeader,
} from './roleFileFormat.js';

export interface BlockOptions {
  key: Buffer;
  fileId: string;
  pool: CompressionPool;
}

/** Blocks waiting for or in the pool, per archive: two per thread keeps every thread fed. */
function inFlightLimit(pool: CompressionPool): number {
  return pool.size * 2;
}

/** Marks a promise as handled so that abandoning it (the reader stopped early) is not a crash. */
function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** Cuts a stream of chunks into fresh buffers of `blockSize` bytes (the last one shorter). */
export async function* toBlocks(chunks: AsyncIterable<Buffer>, blockSize: number): AsyncGenerator<Buffer> {
  let block = Buffer.allocUnsafeSlow(blockSize);
  let filled = 0;
  for await (const chunk of chunks) {
    for (let offset = 0; offset < chunk.length;) {
      const copied = chunk.copy(block, filled, offset);
      filled += copied;
      offset += copied;
      if (filled === blockSize) {
        yield block;
        block = Buffer.allocUnsafeSlow(blockSize);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield block.subarray(0, filled);
}

interface PlainBlock extends CompressedBlock {
  plainLength: number;
}

/** File header, then each block as frame header, ciphertext and tag. Always ends with a final block. */
export async function* sealBlocks(
  blocks: AsyncIterable<Buffer>,
  blockSize: number,
  options: BlockOptions,
): AsyncGenerator<Buffer> {
  const salt = randomBytes(FILE_SALT_BYTES);
  const fileHeader = encodeFileHeader({ blockSize, salt });
  const fileKey = deriveFileKey(options.key, salt, options.fileId);
  yield fileHeader;

  let index = 0;
  const seal = (block: PlainBlock, final: boolean): Buffer[] => {
    const frameHeader = encodeFrameHeader({
      compressed: block.compressed,
      final,
      payloadLength: block.data.length,
      plainLength: block.plainLength,
    });
    const aad = Buffer.concat([fileHeader, frameHeader]);
    const { ciphertext, tag } = sealChunk(fileKey, { index: index++, final, aad }, block.data);
    return [frameHeader, ciphertext, tag];
  };

  const pending: Promise<PlainBlock>[] = [];
  for await (const block of blocks) {
    const plainLength = block.length; // read before the pool takes the buffer over
    pending.push(settledLater(options.pool.compress(block).then((result) => ({ ...result, plainLength }))));
    if (pending.length > inFlightLimit(options.pool)) yield* seal(await pending.shift()!, false);
  }
  if (pending.length === 0)
    pending.push(Promise.resolve({ data: Buffer.alloc(0), compressed: false, plainLength: 0 }));
  while (pending.length > 0) {
    const block = await pending.shift()!;
    yield* seal(block, pending.length === 0);
  }
}

/**
 * The plaintext blocks of a stored role file, in order, each authenticated before it is released.
 * Fails (BackupCorrupt) on any changed, missing, reordered, foreign or truncated block, and on bytes
 * after the final one.
 */
export async function* openBlocks(
  stored: AsyncIterable<Buffer>,
  options: BlockOptions,
): AsyncGenerator<Buffer> {
  const { fileId, pool } = options;
  const reader = new ByteReader(stored);
  try {
    const fileHeader = await reader.readExactly(FILE_HEADER_BYTES);
    const { blockSize, salt } = parseFileHeader(fileHeader, fileId);
    const fileKey = deriveFileKey(options.key, salt, fileId);
    const pending: Promise<Buffer>[] = [];
    for (let index = 0, final = false; !final; index++) {
      const frameHeader = await reader.readExactly(FRAME_HEADER_BYTES);
      if (frameHeader.length < FRAME_HEADER_BYTES) throw endedEarly(fileId, index, frameHeader.length);
      const frame = parseFrameHeader(frameHeader, blockSize, fileId, index);
      const body = await reader.readExactly(frame.payloadLength + CHUNK_TAG_BYTES);
      if (body.length < frame.payloadLength + CHUNK_TAG_BYTES)
        throw damaged(fileId, `it ends inside block ${index}`);
      final = frame.final;
      const aad = Buffer.concat([fileHeader, frameHeader]);
      const position = { index, final, aad };
      const plaintext = openChunk(
        fileKey,
        position,
        body.subarray(0, frame.payloadLength),
        body.subarray(frame.payloadLength),
      );
      if (!plaintext) {
        throw damaged(
          fileId,
          `block ${index} fails authentication (it was changed, moved, or comes from another file or backup)`,
        );
      }
      pending.push(
        settledLater(
          frame.compressed
            ? decompress(plaintext, frame.plainLength, index, options)
            : Promise.resolve(plaintext),
        ),
      );
      if (pending.length > inFlightLimit(pool)) yield await pending.shift()!;
    }
    if (!(await reader.atEnd())) throw damaged(fileId, 'bytes follow its last block');
    while (pending.length > 0) yield await pending.shift()!;
  } finally {
    await reader.close();
  }
}

function endedEarly(fileId: string, index: number, headerBytes: number): Error {
  if (headerBytes > 0) return damaged(fileId, `it ends inside block ${index}`);
  return damaged(
    fileId,
    index === 0
      ? 'it holds no block'
      : `it ends after block ${index - 1}, which is not its last block (the file was cut short or blocks were removed)`,
  );
}

async function decompress(data: Buffer, size: number, index: number, options: BlockOptions): Promise<Buffer> {
  try {
    return await options.pool.decompress(data, size);
  } catch (error) {
    throw damaged(options.fileId, `block ${index} does not decompress (${(error as Error).message})`);
  }
}
