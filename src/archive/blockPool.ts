/**
 * The pool of worker threads that seal and open blocks (zstd + AES-256-GCM), so that every core
 * works while the main thread reads and parses. Callers keep the order themselves (they await their
 * jobs in submission order) and bound how many blocks they have in flight; the thread mechanics
 * (start on first use, stop when idle) are util/workerPool.ts's.
 */
import { availableParallelism } from 'node:os';
import { type WithoutId, WorkerPool } from '../util/workerPool.js';
import { BlockDamaged, type OpenRequest, type SealRequest } from './blockCodec.js';
import { type WorkerReply, type WorkerRequest, transferable } from './blockMessages.js';

/** A Buffer over a thread's reply, without a copy. */
export const asBuffer = (data: Uint8Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

export class BlockPool {
  private readonly threads: WorkerPool<WorkerRequest, WorkerReply>;

  constructor(readonly size: number = defaultPoolSize()) {
    this.threads = new WorkerPool(new URL('./blockWorker.js', import.meta.url), size);
  }

  /**
   * The block's frame, in three parts, and their CRC-32. The pool takes `request.data` over and hands
   * it back as `reusable` (when it could travel without a copy) for the caller's next block.
   */
  async seal(
    request: SealRequest,
  ): Promise<{ frame: Buffer[]; crc32: number; reusable: Buffer | undefined }> {
    const result = await this.submit({ ...request, op: 'seal' }, transferable(request.data));
    const spare = result.spare[0];
    return { frame: result.data.map(asBuffer), crc32: result.crc32!, reusable: spare && asBuffer(spare) };
  }

  /**
   * The block's plaintext, in `request.target`'s buffer; rejects with BlockDamaged when it does not
   * authenticate or decompress. The pool takes the whole buffers under `request.body` and
   * `request.target` over (pass buffers nobody else holds) and hands the body's back as `reusable`.
   */
  async open(request: OpenRequest): Promise<{ plaintext: Buffer; reusable: Buffer }> {
    const owned = [...new Set([request.body.buffer, request.target.buffer])] as ArrayBuffer[];
    const result = await this.submit({ ...request, op: 'open' }, owned);
    return { plaintext: asBuffer(result.data[0]!), reusable: Buffer.from(result.spare[0]!.buffer) };
  }

  /** Stops every thread; the pool starts new ones if used again. */
  close(): Promise<void> {
    return this.threads.close();
  }

  private async submit(
    request: WithoutId<WorkerRequest>,
    transfer: ArrayBuffer[],
  ): Promise<Extract<WorkerReply, { data: Uint8Array[] }>> {
    const reply = await this.threads.submit(request, transfer);
    if ('error' in reply) throw reply.damaged ? new BlockDamaged(reply.error) : new Error(reply.error);
    return reply;
  }
}

/** One thread per core (measured with scripts/measure-archive.ts; see docs/format.md). */
export function defaultPoolSize(): number {
  return Math.max(1, availableParallelism());
}

let shared: BlockPool | undefined;

/** The process-wide pool every archive uses unless given its own. */
export function sharedBlockPool(): BlockPool {
  shared ??= new BlockPool();
  return shared;
}
