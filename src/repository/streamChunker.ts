/**
 * Cuts a record stream into chunks (chunker.ts) with the scans in the worker threads: blocks go out
 * to be scanned, a few at a time; as their scans come back in stream order, the cuts are picked and
 * each chunk is copied out of the blocks into a buffer of `chunkBuffers`. A block goes back to `release`
 * once every chunk that has bytes in it has been copied. Marks (where a span of records kept apart
 * starts or ends) cut there too, and are reached in stream order between the chunks, without
 * waiting for the scans in flight.
 */
import type { ChunkBuffers } from './chunkBuffers.js';
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
  private readonly marks: { offset: number; reached: () => void }[] = [];
  private context = Buffer.alloc(0);
  private streamed = 0;
  private chunkStart = 0;

  constructor(
    private readonly pool: ChunkPool,
    private readonly gear: Int32Array,
    private readonly onChunk: (chunk: Buffer) => void,
    private readonly release: (block: Buffer) => void,
    /** Where chunks are cut into, each a view of a buffer of its own (the caller gives them back). */
    private readonly chunkBuffers: ChunkBuffers,
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
   * A chunk ends at `offset` of the stream (not before the end of what was pushed, nor before an
   * earlier mark's) whatever the content; `reached` is called once every chunk before it has gone to
   * `onChunk`, before any after it.
   */
  mark(offset: number, reached: () => void): void {
    this.selector.forceCut(offset);
    this.marks.push({ offset, reached });
  }

  /** The stream ended: cuts the rest of it, the last chunk ending at its end. */
  async finish(): Promise<void> {
    while (this.scans.length) await this.cutNext();
    this.cutAll(this.selector.finish());
    this.reachUpTo(Infinity);
  }

  private async cutNext(): Promise<void> {
    const { cuts, data } = await this.scans.shift()!;
    this.held.push({ data, start: this.streamed });
    this.streamed += data.length;
    this.cutAll(this.selector.next(cuts, data.length));
    this.reachUpTo(this.streamed);
  }

  /** Each cut, after the marks before it. */
  private cutAll(cuts: number[]): void {
    for (const cut of cuts) {
      this.reachUpTo(cut - 1);
      this.cut(cut);
    }
  }

  private reachUpTo(offset: number): void {
    while (this.marks.length && this.marks[0]!.offset <= offset) this.marks.shift()!.reached();
  }

  /** Copies the chunk that ends at `end` out of the held blocks, and lets go of the blocks it finished. */
  private cut(end: number): void {
    const chunk = this.chunkBuffers.take(end - this.chunkStart);
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
