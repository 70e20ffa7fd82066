/**
 * A small pool of worker threads that seal and open blocks (zstd + AES-256-GCM) and digest stored
 * files, so that every core works while the main thread reads and parses. Callers keep the order
 * themselves (they await their jobs in submission order) and bound how many blocks they have in
 * flight; the pool only spreads jobs over its threads. Threads start on first use and stop after a while without work, so
 * an idle daemon holds none; a busy pool keeps the process alive, an idle one does not.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BlockDamaged, type OpenRequest, type SealRequest } from './blockCodec.js';
import { type WorkerReply, type WorkerRequest, transferable } from './blockMessages.js';
import type { FileDigest } from './fileDigest.js';

const IDLE_STOP_MS = 30_000;

interface JobResult {
  data: Buffer[];
  spare: Buffer[];
  crc32?: number;
  digest?: FileDigest;
}

interface Job {
  resolve(result: JobResult): void;
  reject(error: Error): void;
}

const asBuffer = (data: Uint8Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

class PoolThread {
  readonly jobs = new Map<number, Job>();
  private readonly worker: Worker;

  constructor(onExit: (thread: PoolThread) => void) {
    // No inherited node options: the worker only runs blockWorker.js, whatever started the process.
    this.worker = new Worker(new URL('./blockWorker.js', import.meta.url), { execArgv: [] });
    this.worker.unref();
    this.worker.on('message', (reply: WorkerReply) => this.settle(reply));
    this.worker.on('error', (error) => this.failAll(error));
    this.worker.on('exit', (code) => {
      this.failAll(new Error(`a block worker thread stopped (exit code ${code})`));
      onExit(this);
    });
  }

  run(request: WorkerRequest, transfer: ArrayBuffer[], job: Job): void {
    if (this.jobs.size === 0) this.worker.ref();
    this.jobs.set(request.id, job);
    this.worker.postMessage(request, transfer);
  }

  stop(): Promise<number> {
    return this.worker.terminate();
  }

  private settle(reply: WorkerReply): void {
    const job = this.jobs.get(reply.id);
    if (!job) return;
    this.finish(reply.id);
    if ('data' in reply)
      job.resolve({ data: reply.data.map(asBuffer), spare: reply.spare.map(asBuffer), crc32: reply.crc32 });
    else if ('digest' in reply) job.resolve({ data: [], spare: [], digest: reply.digest });
    else job.reject(reply.damaged ? new BlockDamaged(reply.error) : new Error(reply.error));
  }

  private finish(id: number): void {
    this.jobs.delete(id);
    if (this.jobs.size === 0) this.worker.unref();
  }

  private failAll(error: Error): void {
    for (const [id, job] of this.jobs) {
      this.finish(id);
      job.reject(error);
    }
  }
}

export class BlockPool {
  private readonly threads: PoolThread[] = [];
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(readonly size: number = defaultPoolSize()) {}

  /**
   * The block's frame, in three parts, and their CRC-32. The pool takes `request.data` over and hands
   * it back as `reusable` (when it could travel without a copy) for the caller's next block.
   */
  async seal(
    request: SealRequest,
  ): Promise<{ frame: Buffer[]; crc32: number; reusable: Buffer | undefined }> {
    const result = await this.submit(
      { ...request, op: 'seal', id: this.nextId++ },
      transferable(request.data),
    );
    return { frame: result.data, crc32: result.crc32!, reusable: result.spare[0] };
  }

  /**
   * The block's plaintext; rejects with BlockDamaged when it does not authenticate or decompress.
   * The pool takes `request.body` over: pass a buffer nobody else holds.
   */
  async open(request: OpenRequest): Promise<Buffer> {
    const result = await this.submit(
      { ...request, op: 'open', id: this.nextId++ },
      transferable(request.body),
    );
    return result.data[0]!;
  }

  /** A local file's size, SHA-256 and CRC-32, read and computed in a pool thread. */
  async digestFile(file: string): Promise<FileDigest> {
    const result = await this.submit({ op: 'digest', id: this.nextId++, file }, []);
    return result.digest!;
  }

  /** Stops every thread; the pool starts new ones if used again. */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    await Promise.all(this.threads.splice(0).map((thread) => thread.stop()));
  }

  private submit(request: WorkerRequest, transfer: ArrayBuffer[]): Promise<JobResult> {
    clearTimeout(this.idleTimer);
    const thread = this.leastBusyThread();
    return new Promise<JobResult>((resolve, reject) => {
      thread.run(request, transfer, {
        resolve: (result) => {
          this.scheduleIdleStop();
          resolve(result);
        },
        reject: (error) => {
          this.scheduleIdleStop();
          reject(error);
        },
      });
    });
  }

  private leastBusyThread(): PoolThread {
    const idle = this.threads.find((thread) => thread.jobs.size === 0);
    if (idle) return idle;
    if (this.threads.length < this.size) {
      const thread = new PoolThread((gone) => this.forget(gone));
      this.threads.push(thread);
      return thread;
    }
    return this.threads.reduce((best, thread) => (thread.jobs.size < best.jobs.size ? thread : best));
  }

  private forget(thread: PoolThread): void {
    const index = this.threads.indexOf(thread);
    if (index !== -1) this.threads.splice(index, 1);
  }

  private scheduleIdleStop(): void {
    if (this.threads.some((thread) => thread.jobs.size > 0)) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.close(), IDLE_STOP_MS);
    this.idleTimer.unref();
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
