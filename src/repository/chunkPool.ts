/**
 * The worker threads that hash, seal and open blobs, so that both cores work while the main thread
 * reads and cuts chunks. The thread mechanics are util/workerPool.ts's.
 */
import { type BlobKeys, BlobDamaged, type BlobType, type PackedBlob } from './blobCodec.js';
import { asBuffer, defaultPoolSize } from '../archive/blockPool.js';
import { type WithoutId, WorkerPool } from '../util/workerPool.js';
import { type ChunkReply, type ChunkRequest, ownMemory } from './chunkMessages.js';
import type { CutMasks } from './chunker.js';

export class ChunkPool {
  private readonly threads: WorkerPool<ChunkRequest, ChunkReply>;

  constructor(readonly size: number = defaultPoolSize()) {
    this.threads = new WorkerPool(new URL('./chunkWorker.js', import.meta.url), size);
  }

  /** Where cuts may fall in a block (chunker.ts scanCuts); `data` travels to the thread and back. */
  async scan(
    gear: Int32Array,
    masks: CutMasks,
    context: Buffer,
    data: Buffer,
  ): Promise<{ cuts: Int32Array; data: Buffer }> {
    const reply = await this.submit({ op: 'scan', gear, masks, context, data }, ownMemory(data));
    return { cuts: reply.cuts!, data: asBuffer(reply.data!) };
  }

  /**
   * The chunk's id. `data` (a view of a buffer the caller owns) travels to the thread and back: the
   * Buffer returned replaces it.
   */
  async id(keys: BlobKeys, data: Buffer): Promise<{ chunkId: Buffer; data: Buffer }> {
    const reply = await this.submit({ op: 'id', keys, type: 1, data }, ownMemory(data));
    return { chunkId: asBuffer(reply.chunkId!), data: asBuffer(reply.data!) };
  }

  /**
   * The stored blob, in the parts BlobCodec.seal gives, and its id; `data` travels as for id() and
   * comes back for reuse.
   */
  async seal(
    keys: BlobKeys,
    type: BlobType,
    data: Buffer,
    chunkId?: Buffer,
  ): Promise<{ chunkId: Buffer; stored: Buffer[]; data: Buffer }> {
    const reply = await this.submit({ op: 'seal', keys, type, data, chunkId }, ownMemory(data));
    return {
      chunkId: asBuffer(reply.chunkId!),
      stored: reply.stored!.map(asBuffer),
      data: asBuffer(reply.data!),
    };
  }

  /**
   * The plaintexts of `blobs` (where they are in `stored`), end to end; rejects with BlobDamaged
   * naming the first that does not open or is not its id. `stored` travels to the thread and back.
   */
  async open(keys: BlobKeys, type: BlobType, stored: Buffer, blobs: PackedBlob[]): Promise<Buffer> {
    const reply = await this.submit({ op: 'open', keys, type, stored, blobs }, ownMemory(stored));
    return asBuffer(reply.data!);
  }

  close(): Promise<void> {
    return this.threads.close();
  }

  private async submit(
    request: WithoutId<ChunkRequest>,
    transfer: ArrayBuffer[] = [],
  ): Promise<Exclude<ChunkReply, { error: string }>> {
    const reply = await this.threads.submit(request, transfer);
    if ('error' in reply) throw reply.damaged ? new BlobDamaged(reply.error) : new Error(reply.error);
    return reply;
  }
}

let shared: ChunkPool | undefined;

/** The process-wide pool every repository uses unless given its own. */
export function sharedChunkPool(): ChunkPool {
  shared ??= new ChunkPool();
  return shared;
}
