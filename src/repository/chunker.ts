/**
 * Content-defined chunking (docs/format.md, "Chunks"): FastCDC's normalized chunking with a gear
 * hash, in two steps so that the costly one runs in the worker threads.
 *
 * 1. `scanCuts` (a worker, one block at a time): every position where the rolling hash allows a
 *    cut. The hash is 32 bits wide, `h = (h << 1) + gear[byte]`, so at any position it depends on
 *    the 32 bytes up to it and nothing else: a block is scanned on its own, given the 31 bytes
 *    before it.
 * 2. `CutSelector` (the main thread, in stream order): picks the cuts among those positions by
 *    chunk length — none below `min`; below `average` only where the hash has the stricter mask's
 *    bits clear; at `max` in any case.
 *
 * The gear table comes from the epoch's secret, so where chunks end tells nothing about the content
 * to someone who only sees their sizes. An insertion moves the cuts after it by its length and no
 * further, which is what lets a changed file share its unchanged chunks with the previous backup.
 */
import { createCipheriv } from 'node:crypto';
import { gearScan } from './gearScan.js';

export interface ChunkSizes {
  min: number;
  average: number;
  max: number;
}

/**
 * Measured on the bench data (docs/benchmarks.md, "Format 4: chunk sizes"): an average of 64 KiB
 * stores a step of the bench's change in 25 MB, 128 KiB in 38, 256 KiB in 59 (restic: 39–45).
 */
export const CHUNK_SIZES: ChunkSizes = { min: 16 * 1024, average: 64 * 1024, max: 256 * 1024 };

/** Bytes before a block that its scan needs: the hash at a position covers 32 bytes. */
export const SCAN_CONTEXT_BYTES = 31;

export interface CutMasks {
  /** Needed below the average size: two more bits than log2(average). */
  strict: number;
  /** Enough from the average size on: two bits fewer. */
  loose: number;
}

/** A mask of `bits` one-bits taken from the top of the 32-bit hash, where every byte of the window counts. */
function topBits(bits: number): number {
  return (0xffffffff << (32 - bits)) | 0;
}

export function cutMasks(sizes: ChunkSizes = CHUNK_SIZES): CutMasks {
  const bits = Math.round(Math.log2(sizes.average));
  return { strict: topBits(bits + 2), loose: topBits(bits - 2) };
}

/**
 * 256 32-bit gear values: AES-256-CTR's keystream under the epoch's gear key. Signed, so that the
 * hash stays a 32-bit integer in V8 (unsigned values above 2^31 are doubles: 35 % slower).
 */
export function gearTable(gearKey: Uint8Array): Int32Array {
  const cipher = createCipheriv('aes-256-ctr', gearKey, Buffer.alloc(16));
  const stream = Buffer.concat([cipher.update(Buffer.alloc(1024)), cipher.final()]);
  const table = new Int32Array(256);
  for (let index = 0; index < 256; index += 1) table[index] = stream.readInt32LE(index * 4);
  return table;
}

/**
 * A 32-bit hash of `text` keyed by the gear table (format 4 ends its groups of small files where the
 * hash of a path says, docs/format.md "The file cache"): every character counts (FNV-1a's steps
 * over the gear values of its two bytes, then MurmurHash3's finalizer), so a name shared by many
 * folders does not end a group everywhere, and where groups end tells nothing to whoever lacks the
 * key. Not a MAC: a few microseconds a path cheaper than HMAC, for a choice that only moves cuts.
 */
export function keyedTextHash(gear: Int32Array, text: string): number {
  let hash = 0x811c9dc5 | 0;
  for (let index = 0; index < text.length; index += 1) {
    const unit = text.charCodeAt(index);
    hash = Math.imul(hash ^ gear[unit & 0xff]!, 0x01000193);
    hash = Math.imul(hash ^ gear[unit >>> 8]!, 0x01000193);
  }
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

/**
 * The positions in `data` after which a cut may fall (1 … data.length), each as `position * 2 + 1`
 * when the strict mask allows it too, `position * 2` when only the loose one does. `context` is the
 * (up to 31) bytes before `data` in the stream. Run in WebAssembly (gearScan.ts); the loop it runs is
 * `h = ((h << 1) + gear[byte]) | 0` over the context, then over the data with, after each byte,
 * `if ((h & loose) === 0) found.push((i + 1) * 2 + ((h & strict) === 0 ? 1 : 0))`.
 */
export function scanCuts(
  gear: Int32Array,
  masks: CutMasks,
  context: Uint8Array,
  data: Uint8Array,
): Int32Array {
  return gearScan(gear, masks.strict, masks.loose, context, data);
}

/**
 * Picks the cuts of a stream from its blocks' scans, block after block in stream order. Offsets are
 * from the start of the stream.
 */
export class CutSelector {
  private chunkStart = 0;
  private blockStart = 0;
  /** Offsets where a chunk must end whatever the content, ascending (forceCut). */
  private readonly forced: number[] = [];
  private cuts: number[] = [];

  constructor(private readonly sizes: ChunkSizes = CHUNK_SIZES) {}

  /**
   * A cut at `offset` of the stream (at or after every offset given before, and not in a block
   * already given to `next`), whatever the content: where a record kept apart starts or ends.
   */
  forceCut(offset: number): void {
    this.forced.push(offset);
  }

  /** The cuts that fall in the next block (of `length` bytes, scanned into `candidates`). */
  next(candidates: Int32Array, length: number): number[] {
    const { min, average } = this.sizes;
    for (const candidate of candidates) {
      const offset = this.blockStart + (candidate >>> 1);
      this.forceUpTo(offset);
      this.cutLongUpTo(offset);
      const size = offset - this.chunkStart;
      if (size >= min && (size >= average || (candidate & 1) === 1)) this.cutAt(offset);
    }
    this.blockStart += length;
    this.forceUpTo(this.blockStart);
    this.cutLongUpTo(this.blockStart);
    return this.taken();
  }

  /**
   * The stream ended where the blocks given so far end: the cuts left (those forced, and one there
   * unless it already is a cut or nothing came).
   */
  finish(): number[] {
    this.forceUpTo(this.blockStart);
    if (this.blockStart > this.chunkStart) this.cutAt(this.blockStart);
    return this.taken();
  }

  /** The forced cuts up to `offset`, each after the cuts the maximum size needs before it. */
  private forceUpTo(offset: number): void {
    while (this.forced.length && this.forced[0]! <= offset) {
      const forced = this.forced.shift()!;
      this.cutLongUpTo(forced);
      if (forced > this.chunkStart) this.cutAt(forced);
    }
  }

  /** Cuts at the maximum size until a chunk reaching `offset` would not exceed it. */
  private cutLongUpTo(offset: number): void {
    while (offset - this.chunkStart > this.sizes.max) this.cutAt(this.chunkStart + this.sizes.max);
  }

  private cutAt(offset: number): void {
    this.cuts.push(offset);
    this.chunkStart = offset;
  }

  private taken(): number[] {
    const cuts = this.cuts;
    this.cuts = [];
    return cuts;
  }
}
