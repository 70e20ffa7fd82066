/**
 * The buffers chunks are cut into (streamChunker.ts), reused once their thread hands them back
 * (writer.ts). Each chunk goes into the smallest of a few sizes that holds it, doubling from the
 * smallest chunk's size to the largest's. A chunk travels to a thread and back whole (chunkPool.ts),
 * and V8 counts every buffer that comes back as new memory outside its heap: after some tens of MB of
 * it, a full collection. In buffers of the largest chunk's size, a chunk of the average size counted
 * four times over (docs/benchmarks.md, "Format 4: chunks in buffers of their size"). The smallest
 * size (the smallest chunk's, 16 KiB) is above Node's pool size, so every chunk is still transferred
 * to its thread, not copied (chunkMessages.ts, ownMemory).
 */
import { BlockBuffers } from '../archive/sealedBlocks.js';
import type { ChunkSizes } from './chunker.js';

export class ChunkBuffers {
  /** By size, smallest first. */
  private readonly sizes: BlockBuffers[] = [];

  constructor({ min, max }: ChunkSizes) {
    for (let size = min; size < max; size *= 2) this.sizes.push(new BlockBuffers(size));
    this.sizes.push(new BlockBuffers(max));
  }

  /** A view of `length` bytes (at most the largest chunk's size) at the start of a buffer of its own. */
  take(length: number): Buffer {
    return this.holding(length).take().subarray(0, length);
  }

  /** A whole buffer `take` gave out, back for reuse. */
  give(buffer: Buffer): void {
    this.holding(buffer.length).give(buffer);
  }

  private holding(length: number): BlockBuffers {
    return this.sizes.find((buffers) => buffers.blockSize >= length) ?? this.sizes.at(-1)!;
  }
}
