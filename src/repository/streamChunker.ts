/**
 * Cuts a record stream into chunks (chunker.ts) with the scans in the worker threads: blocks go out
 * to be scanned, a few at a time; as their scans come back in stream order, the cuts are picked and
 * each chunk is copied out of the blocks into a buffer of `chunkBuffers`. A block goes back to `release`
 * once every chunk that has bytes in it has been copied.
 */
import type { BlockBuffers } from '../archive/sealedBlocks.js';
import type { ChunkPool } from './chunkPool.js';
import { CutSelector, SCAN_CONTEXT_BYTES, cutMasks, type CutMasks } from './chunker.js';

/**
 * Blocks being scanned at once, per role: one per thread. The threads also seal every role's chunks,
 * so they stay busy; two held 1 MiB more per thread and role (three roles side by side in the
 * daemon) for no measured speed.
 */
const SCANS_PER_THREAD = 1;

interface HeldBlock {
  data: Buffer;
  /** Offset of the block's first byte in the stream. */
  start: number;
}

export class StreamChunker {
  private readonly masks: CutMasks = cutMasks();
  private readonly selector = new CutSelector();
  private readonly scans: Promise<{ cuts: Int32Array; data: Buffer }>[] = [];
  private readonly held: HeldBlock[] = [];
  private context = Buffer.alloc(0);
  private streamed = 0;
  private chunkStart = 0;

  constructor(
    private readonly pool: ChunkPool,
    private readonly gear: Int32Array,
    private readonly onChunk: (chunk: Buffer) => void,
    private readonly release: (block: Buffer) => void,
    /** Buffers of the largest chunk's size, each chunk a view of one (the caller gives them back). */
    private readonly chunkBuffers: BlockBuffers,
  ) {}

  /** Takes a block of the stream over; returns once there is room for the next one. */
  async push(block: Buffer): Promise<void> {
    const context = this.context;
    this.context = Buffer.from(block.subarray(Math.max(0, block.length - SCAN_CONTEXT_BYTES)));
    const scan = this.pool.scan(this.gear, this.masks, context, block);
    scan.catch(() => undefined); // awaited in order below
    this.scans.push(scan);
    while (this.scans.length > SCANS_PER_THREAD * this.pool.size) await this.cutNext();
  }

  /**
   * Cuts what was pushed so far, the last chunk ending where the stream is now: at its end, or
   * before or after a record kept apart.
   */
  async cutHere(): Promise<void> {
    while (this.scans.length) await this.cutNext();
    const end = this.selector.cutHere();
    if (end !== null) this.cut(end);
  }

  private async cutNext(): Promise<void> {
    const { cuts, data } = await this.scans.shift()!;
    this.held.push({ data, start: this.streamed });
    this.streamed += data.length;
    for (const cut of this.selector.next(cuts, data.length)) this.cut(cut);
  }

  /** Copies the chunk that ends at `end` out of the held blocks, and lets go of the blocks it finished. */
  private cut(end: number): void {
    const chunk = this.chunkBuffers.take().subarray(0, end - this.chunkStart);
    for (const block of this.held) {
      const from = Math.max(this.chunkStart, block.start);
      const to = Math.min(end, block.start + block.data.length);
      if (from < to) block.data.copy(chunk, from - this.chunkStart, from - block.start, to - block.start);
    }
    this.chunkStart = end;
    while (this.held.length && this.held[0]!.start + this.held[0]!.data.length <= end)
      this.release(this.held.shift()!.data);
    this.onChunk(chunk);
  }
}
