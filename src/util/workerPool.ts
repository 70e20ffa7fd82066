/**
 * A small pool of worker threads running one script, shared in mechanics by the archive's block
 * pool (sealing and opening blocks) and the local store's read-back digests: threads start on first
 * use and stop after a while without work, so an idle daemon holds none; a busy pool keeps the
 * process alive, an idle one does not. Callers keep their own order and bound what they have in
 * flight; the pool only spreads requests over its threads and hands each reply back as it came.
 */
import { Worker } from 'node:worker_threads';

const IDLE_STOP_MS = 30_000;

/** Every request and reply carries the id the pool gave it. */
export interface PoolMessage {
  id: number;
}

/** A request as its sender writes it: the pool adds the id (each member of a union keeps its own fields). */
export type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

interface Job<Reply> {
  resolve(reply: Reply): void;
  reject(error: Error): void;
}

class PoolThread<Reply extends PoolMessage> {
  readonly jobs = new Map<number, Job<Reply>>();
  private readonly worker: Worker;

  constructor(script: URL, onExit: (thread: PoolThread<Reply>) => void) {
    // No inherited node options: the worker only runs its script, whatever started the process.
    this.worker = new Worker(script, { execArgv: [] });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => this.settle(reply));
    this.worker.on('error', (error) => this.failAll(error));
    this.worker.on('exit', (code) => {
      this.failAll(new Error(`a worker thread stopped (exit code ${code})`));
      onExit(this);
    });
  }

  run(request: PoolMessage, transfer: ArrayBuffer[], job: Job<Reply>): void {
    if (this.jobs.size === 0) this.worker.ref();
    this.jobs.set(request.id, job);
    this.worker.postMessage(request, transfer);
  }

  stop(): Promise<number> {
    return this.worker.terminate();
  }

  private settle(reply: Reply): void {
    const job = this.jobs.get(reply.id);
    if (!job) return;
    this.finish(reply.id);
    job.resolve(reply);
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

export class WorkerPool<Request extends PoolMessage, Reply extends PoolMessage> {
  private readonly threads: PoolThread<Reply>[] = [];
  private lastId = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly script: URL,
    readonly size: number,
  ) {}

  /**
   * The worker's reply to `request` (given a fresh id); rejects only when the thread itself fails.
   * `transfer` is handed over without a copy.
   */
  submit(request: WithoutId<Request>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    clearTimeout(this.idleTimer);
    const thread = this.leastBusyThread();
    return new Promise<Reply>((resolve, reject) => {
      thread.run({ ...request, id: ++this.lastId } as PoolMessage, transfer, {
        resolve: (reply) => {
          this.scheduleIdleStop();
          resolve(reply);
        },
        reject: (error) => {
          this.scheduleIdleStop();
          reject(error);
        },
      });
    });
  }

  /** Stops every thread; the pool starts new ones if used again. */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    await Promise.all(this.threads.splice(0).map((thread) => thread.stop()));
  }

  private leastBusyThread(): PoolThread<Reply> {
    const idle = this.threads.find((thread) => thread.jobs.size === 0);
    if (idle) return idle;
    if (this.threads.length < this.size) {
      const thread = new PoolThread<Reply>(this.script, (gone) => this.forget(gone));
      this.threads.push(thread);
      return thread;
    }
    return this.threads.reduce((best, thread) => (thread.jobs.size < best.jobs.size ? thread : best));
  }

  private forget(thread: PoolThread<Reply>): void {
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
