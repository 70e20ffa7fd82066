/**
 * The block layer of a role file: a byte stream cut into blocks, each sealed (compressed, then
 * encrypted) in the worker pool, and the frames put back in order; and the reverse. A few blocks are
 * in flight at a time, so both cores work while memory stays bounded.
 */
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { CHUNK_TAG_BYTES, FILE_SALT_BYTES, deriveFileKey } from '../crypto/chunkCipher.js';
import { BlockDamaged, type OpenRequest } from './blockCodec.js';
import type { BlockPool } from './blockPool.js';
import { ByteReader } from './byteReader.js';
import {
  FILE_HEADER_BYTES,
  FRAME_HEADER_BYTES,
  type ParsedFileHeader,
  damaged,
  encodeFileHeader,
  parseFileHeader,
  parseFrameHeader,
} from './roleFileFormat.js';

export interface BlockOptions {
  key: Buffer;
  fileId: string;
  pool: BlockPool;
}

/** A piece of the stored file, in order: its bytes (in parts), their length and their CRC-32. */
export interface StoredPiece {
  parts: Buffer[];
  length: number;
  crc32: number;
}

export interface PlainBlock {
  data: Buffer;
  /** The file's last block: sealed as such, so that a file cut short after any block is detected. */
  final: boolean;
}

/**
 * Blocks waiting for or in the pool, per archive: one per thread (plus the one being awaited). Roles
 * are archived a few at a time, so the threads stay fed; two per thread cost 20–40 MB more peak
 * memory in `npm run bench` for no measured speed.
 */
function inFlightLimit(pool: BlockPool): number {
  return pool.size;
}

/** Marks a promise as handled so that abandoning it (the reader stopped early) is not a crash. */
function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/** Block-sized buffers, reused once the pool hands them back: the writer makes almost no garbage. */
export class BlockBuffers {
  private readonly free: Buffer[] = [];

  constructor(readonly blockSize: number) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.blockSize);
  }

  give(buffer: Buffer | undefined): void {
    if (buffer?.length === this.blockSize) this.free.push(buffer);
  }
}

/**
 * The buffers blocks are opened into, reused once nothing holds them: without that, every block
 * read would leave about 2 MiB of plaintext (and its stored bytes) to the garbage collector, and the
 * allocator keeps what piled up meanwhile for good (docs/benchmarks.md, "Restore: memory and the
 * verification's read side").
 * A block the record reader has moved past (`passed`) goes back to the free list once every view
 * of it that was lent out to a consumer has been released; a consumer that never releases its views
 * leaves the block to the garbage collector, as before.
 */
export class PlaintextBuffers {
  private buffers: BlockBuffers | undefined;
  /** Blocks given out by openBlocks and not yet free: views lent out, and whether they were passed. */
  private readonly leases = new WeakMap<ArrayBufferLike, { lent: number; passed: boolean }>();

  /** A whole buffer for a block of `blockSize` bytes; the pool takes it over. */
  take(blockSize: number): Buffer {
    if (this.buffers?.blockSize !== blockSize) this.buffers = new BlockBuffers(blockSize);
    return this.buffers.take();
  }

  /** A block's plaintext back from the pool: its buffer is now watched. */
  track(plaintext: Buffer): void {
    this.leases.set(plaintext.buffer, { lent: 0, passed: false });
  }

  /** A view of a block is handed to a consumer, which may release it. */
  lend(view: Buffer): void {
    const lease = this.leases.get(view.buffer);
    if (lease) lease.lent += 1;
  }

  /** A consumer no longer refers to `view` (nor to any view of the same bytes). */
  release(view: Buffer): void {
    const lease = this.leases.get(view.buffer);
    if (!lease || lease.lent === 0) return;
    lease.lent -= 1;
    this.freeIfUnused(view.buffer);
  }

  /** The reader keeps no view of `block` any more. */
  passed(block: Buffer): void {
    const lease = this.leases.get(block.buffer);
    if (!lease) return;
    lease.passed = true;
    this.freeIfUnused(block.buffer);
  }

  private freeIfUnused(buffer: ArrayBufferLike): void {
    const lease = this.leases.get(buffer)!;
    if (!lease.passed || lease.lent > 0) return;
    this.leases.delete(buffer);
    this.buffers?.give(Buffer.from(buffer));
  }
}

/**
 * Gathers the plaintext into blocks of `buffers.blockSize` bytes (the last one shorter, possibly
 * empty), copying each byte once, straight into the block it belongs to. A full block is held back
 * until more data shows whether it is the last one.
 */
export class BlockFiller {
  private block: Buffer;
  private filled = 0;
  private heldBack: Buffer | null = null;
  private ready: PlainBlock[] = [];
  /** Bytes written so far: where the next byte is in the stream. */
  private total = 0;

  constructor(private readonly buffers: BlockBuffers) {
    this.block = buffers.take();
  }

  /** Copies `data` in. */
  write(data: Buffer): void {
    for (let offset = 0; offset < data.length;) {
      const copied = data.copy(this.space(), 0, offset);
      this.advance(copied);
      offset += copied;
    }
  }

  /**
   * Lets `read` write into the free part of the current block (at most `limit` bytes) and keeps the
   * count it returns, at once or once its promise settles (nothing else may use the filler meanwhile).
   */
  fill(limit: number, read: (target: Buffer) => number | Promise<number>): number | Promise<number> {
    const space = this.space();
    const result = read(space.length > limit ? space.subarray(0, limit) : space);
    if (typeof result === 'number') return this.advance(result);
    return result.then((count) => this.advance(count));
  }

  /** Blocks completed since the last call, in order (never the held-back one). */
  takeReady(): PlainBlock[] {
    const ready = this.ready;
    this.ready = [];
    return ready;
  }

  /** Bytes written so far: the offset in the stream of the next byte. */
  get offset(): number {
    return this.total;
  }

  /** Every remaining block, the last one marked final. */
  finish(): PlainBlock[] {
    const rest = this.takeReady();
    if (this.heldBack && this.filled === 0) return [...rest, { data: this.heldBack, final: true }];
    if (this.heldBack) rest.push({ data: this.heldBack, final: false });
    return [...rest, { data: this.block.subarray(0, this.filled), final: true }];
  }

  /** The free part of the current block; a held-back block is released once data goes past it. */
  private space(): Buffer {
    if (this.heldBack) {
      this.ready.push({ data: this.heldBack, final: false });
      this.heldBack = null;
    }
    return this.block.subarray(this.filled);
  }

  /** Keeps `count` more bytes of the current block; returns `count`. */
  private advance(count: number): number {
    this.filled += count;
    this.total += count;
    if (this.filled === this.buffers.blockSize) {
      this.heldBack = this.block;
      this.block = this.buffers.take();
      this.filled = 0;
    }
    return count;
  }
}

/** The stored file: its header, then each block's frame, in order. */
export async function* sealBlocks(
  blocks: AsyncIterable<PlainBlock>,
  buffers: BlockBuffers,
  options: BlockOptions,
): AsyncGenerator<StoredPiece> {
  const salt = randomBytes(FILE_SALT_BYTES);
  const fileHeader = encodeFileHeader({ blockSize: buffers.blockSize, salt });
  const fileKey = deriveFileKey(options.key, salt, options.fileId);
  yield { parts: [fileHeader], length: fileHeader.length, crc32: crc32(fileHeader) };
  const pending: Promise<StoredPiece>[] = [];
  let index = 0;
  const seal = async (block: PlainBlock, position: number): Promise<StoredPiece> => {
    const sealed = await options.pool.seal({ fileKey, fileHeader, index: position, ...block });
    buffers.give(sealed.reusable);
    const length = sealed.frame.reduce((sum, part) => sum + part.length, 0);
    return { parts: sealed.frame, length, crc32: sealed.crc32 };
  };
  for await (const block of blocks) {
    pending.push(settledLater(seal(block, index++)));
    if (pending.length > inFlightLimit(options.pool)) yield await pending.shift()!;
  }
  while (pending.length > 0) yield await pending.shift()!;
}

/**
 * The plaintext blocks of a stored role file, in order, each authenticated before it is released;
 * `onFileHeader` learns the file's header (its format version) before the first block.
 * Fails (BackupCorrupt) on any changed, missing, reordered, foreign or truncated block, and on bytes
 * after the final one. Each block is a view of a buffer taken from `plaintext`: tell it when done.
 */
export async function* openBlocks(
  stored: AsyncIterable<Buffer>,
  options: BlockOptions,
  onFileHeader: (header: ParsedFileHeader) => void = () => undefined,
  plaintext = new PlaintextBuffers(),
): AsyncGenerator<Buffer> {
  const { fileId, pool } = options;
  const reader = new ByteReader(stored);
  try {
    const fileHeader = ownCopy(await reader.readExactly(FILE_HEADER_BYTES));
    const parsed = parseFileHeader(fileHeader, fileId);
    onFileHeader(parsed);
    const { blockSize, salt } = parsed;
    const fileKey = deriveFileKey(options.key, salt, fileId);
    const bodies = new BlockBuffers(blockSize + CHUNK_TAG_BYTES); // a stored payload is at most a block
    const open = async (request: Omit<OpenRequest, 'target'>): Promise<Buffer> => {
      const opened = await pool.open({ ...request, target: plaintext.take(blockSize) });
      bodies.give(opened.reusable);
      plaintext.track(opened.plaintext);
      return opened.plaintext;
    };
    const pending: Promise<Buffer>[] = [];
    for (let index = 0, final = false; !final; index++) {
      const frameHeader = ownCopy(await reader.readExactly(FRAME_HEADER_BYTES));
      if (frameHeader.length < FRAME_HEADER_BYTES) throw endedEarly(fileId, index, frameHeader.length);
      const frame = parseFrameHeader(frameHeader, blockSize, fileId, index);
      const body = bodies.take().subarray(0, frame.payloadLength + CHUNK_TAG_BYTES);
      if ((await reader.readInto(body)) < body.length) throw damaged(fileId, `it ends inside block ${index}`);
      final = frame.final;
      const opened = open({ fileKey, fileHeader, index, final, frame, frameHeader, body });
      pending.push(settledLater(opened.catch((error: Error) => Promise.reject(asDamage(error, fileId)))));
      if (pending.length > inFlightLimit(pool)) yield await pending.shift()!;
    }
    if (!(await reader.atEnd())) throw damaged(fileId, 'bytes follow its last block');
    while (pending.length > 0) yield await pending.shift()!;
  } finally {
    await reader.close();
  }
}

/**
 * The bytes in memory of their own. A header read from the store is a view of a much larger read
 * chunk, and a view posted to a worker thread is cloned with its whole underlying buffer: each
 * block's request would copy a megabyte or more into the worker's heap (see docs/benchmarks.md).
 */
function ownCopy(view: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(view.length);
  view.copy(copy);
  return copy;
}

function asDamage(error: Error, fileId: string): Error {
  return error instanceof BlockDamaged ? damaged(fileId, error.message) : error;
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
