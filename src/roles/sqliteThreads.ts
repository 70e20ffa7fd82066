/**
 * The threads that run the Sqlite provider's long calls (sqliteWorker.ts): database copies and
 * integrity checks. A thread runs one call at a time and is kept for the next: starting a thread and
 * loading SQLite into it cost ~45 ms CPU and ~50 ms wall per copy of the bench's 124 MB Domain.db, a
 * quarter of the copy itself. A thread stops after a while without work; an idle thread does not
 * keep the process alive.
 */
import { Worker } from 'node:worker_threads';
import type { CheckOutcome, CopyOutcome, CopyRequest, SqliteRequest } from './sqliteWorker.js';

const IDLE_STOP_MS = 30_000;

/** The thread died before it reported: `why` is its error or exit code. */
type Stopped = { result: 'stopped'; why: string };
export type CopyResult = CopyOutcome | Stopped;
export type CheckResult = CheckOutcome | Stopped;

interface IdleThread {
  worker: Worker;
  timer: NodeJS.Timeout;
}

const idleThreads: IdleThread[] = [];

/**
 * Runs one copy on a thread of its own. Cancelling stops the copy at the next point the thread can
 * (within ~0.1 s while it waits for a writer's lock; a copy already copying pages runs to its end):
 * this settles only once the thread is done with the copy, so nothing goes on behind a caller that
 * has moved on (e.g. to removing the staging folder).
 */
export async function copyInThread(
  request: Omit<CopyRequest, 'op' | 'cancel'>,
  signal: AbortSignal,
): Promise<CopyResult> {
  if (signal.aborted) return { result: 'cancelled' };
  const cancel = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  const onAbort = (): void => void Atomics.store(cancel, 0, 1);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await onThread<CopyOutcome>({ op: 'copy', ...request, cancel });
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** SQLite's integrity check of `file`, on a thread of its own. */
export function checkInThread(file: string): Promise<CheckResult> {
  return onThread<CheckOutcome>({ op: 'check', file });
}

function onThread<Outcome>(request: SqliteRequest): Promise<Outcome | Stopped> {
  const worker = takeIdleThread() ?? startThread();
  return new Promise((resolve) => {
    let failure: string | undefined;
    const onMessage = (outcome: Outcome): void => {
      detach();
      keepIdle(worker);
      resolve(outcome);
    };
    const onError = (error: Error): void => {
      failure ??= error.message;
    };
    const onExit = (code: number): void => {
      detach();
      resolve({ result: 'stopped', why: failure ?? `exit code ${code}` });
    };
    const detach = (): void => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    worker.postMessage(request);
  });
}

function startThread(): Worker {
  // No inherited node options: the worker only runs sqliteWorker.js, whatever started the process.
  const worker = new Worker(new URL('./sqliteWorker.js', import.meta.url), { execArgv: [] });
  // An idle thread that fails has nobody to tell; it is only forgotten.
  worker.on('error', () => undefined);
  worker.on('exit', () => forget(worker));
  return worker;
}

function takeIdleThread(): Worker | undefined {
  const thread = idleThreads.pop();
  if (!thread) return undefined;
  clearTimeout(thread.timer);
  thread.worker.ref();
  return thread.worker;
}

function keepIdle(worker: Worker): void {
  worker.unref();
  const timer = setTimeout(() => {
    forget(worker);
    void worker.terminate();
  }, IDLE_STOP_MS);
  timer.unref();
  idleThreads.push({ worker, timer });
}

function forget(worker: Worker): void {
  const index = idleThreads.findIndex((thread) => thread.worker === worker);
  if (index === -1) return;
  clearTimeout(idleThreads[index]!.timer);
  idleThreads.splice(index, 1);
}
