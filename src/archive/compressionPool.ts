/**
 * A small pool of worker threads running zstd on independent blocks, so compression uses every core
 * while the main thread reads, hashes and encrypts. Callers keep the order themselves (they await
 * their jobs in submission order) and bound how many blocks they have in flight; the pool only
 * spreads jobs over its threads. Threads start on first use and stop after a while without work, so
 * an idle daemon holds none; a busy pool keeps the process alive, an idle one does not.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export const COMPRESSION_LEVEL = 3;
const IDLE_STOP_MS = 30_000;

export type WorkerRequest =
  | { id: number; op: 'compress'; data: Uint8Array; level: number }
  | { id: number; op: 'decompress'; data: Uint8Array; size: number };

export type WorkerReply =
  { id: number; data: Uint8Array; compressed: boolean } | { id: number; error: string };

export interface CompressedBlock {
  /** zstd frame, or the block itself when compression would not shrink it. */
  data: Buffer;
  compressed: boolean;
}

interface Job {
  resolve(reply: { data: Buffer; compressed: boolean }): void;
  reject(error: Error): void;
}

class PoolThread {
  readonly jobs = new Map<number, Job>();
  private readonly worker: Worker;

  constructor(onExit: (thread: PoolThread) => void) {
    this.worker = new Worker(new URL('./compressionWorker.js', import.meta.url));
    this.worker.unref();
    this.worker.on('message', (reply: WorkerReply) => this.settle(reply));
    this.worker.on('error', (error) => this.failAll(error));
    this.worker.on('exit', (code) => {
      this.failAll(new Error(`compression worker stopped (exit code ${code})`));
      onExit(this);
    });
  }

  run(request: WorkerRequest, job: Job): void {
    if (this.jobs.size === 0) this.worker.ref();
    this.jobs.set(request.id, job);
    this.worker.postMessage(
      request,
      ownsWholeBuffer(request.data) ? [request.data.buffer as ArrayBuffer] : [],
    );
  }

  stop(): Promise<number> {
    return this.worker.terminate();
  }

  private settle(reply: WorkerReply): void {
    const job = this.jobs.get(reply.id);
    if (!job) return;
    this.finish(reply.id);
    if ('error' in reply) job.reject(new Error(reply.error));
    else job.resolve({ data: toBuffer(reply.data), compressed: reply.compressed });
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

/** A buffer can be handed over (transferred) without a copy only if no one else shares its memory. */
function ownsWholeBuffer(data: Uint8Array): boolean {
  return (
    data.buffer instanceof ArrayBuffer &&
    data.byteOffset === 0 &&
    data.byteLength === data.buffer.byteLength &&
    data.byteLength > 4096 // smaller Buffers may live in Node's shared allocation pool
  );
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export class CompressionPool {
  private readonly threads: PoolThread[] = [];
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(readonly size: number = defaultPoolSize()) {}

  /** Compresses one block. The pool takes the buffer over: the caller must not use it afterwards. */
  compress(block: Buffer): Promise<CompressedBlock> {
    return this.submit({ id: this.nextId++, op: 'compress', data: block, level: COMPRESSION_LEVEL });
  }

  /** Decompresses one zstd frame that must yield exactly `size` bytes; takes the buffer over. */
  async decompress(frame: Buffer, size: number): Promise<Buffer> {
    return (await this.submit({ id: this.nextId++, op: 'decompress', data: frame, size })).data;
  }

  /** Stops every thread; the pool starts new ones if used again. */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    await Promise.all(this.threads.splice(0).map((thread) => thread.stop()));
  }

  private submit(request: WorkerRequest): Promise<CompressedBlock> {
    clearTimeout(this.idleTimer);
    const thread = this.leastBusyThread();
    return new Promise<CompressedBlock>((resolve, reject) => {
      thread.run(request, {
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

/** One thread per core: on the 2-core target the main thread's crypto fits beside two zstd threads. */
export function defaultPoolSize(): number {
  return Math.max(1, availableParallelism());
}

let shared: CompressionPool | undefined;

/** The process-wide pool every archive uses unless given its own. */
export function sharedCompressionPool(): CompressionPool {
  shared ??= new CompressionPool();
  return shared;
}
