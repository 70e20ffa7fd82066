/**
 * Retries for transient store faults, as a wrapper around any BackupStore (restic's backend/retry):
 * the backends stay free of retry loops, and the policy lives in one place.
 *
 * Only ShareUnreachable is transient; every other reason is permanent and fails at once. Only
 * idempotent operations are retried: checkRoot, mkdir, list, stat, remove, capacity, sessionInfo,
 * opening a file for reading (no byte has reached the caller yet), and a digest (read anew each time). writeFile is not (its source
 * stream is consumed by the first attempt).
 *
 * Used for SMB shares and blob containers; generic, so it can wrap any store.
 */
import type { Readable } from 'node:stream';
import { isAzsError } from '../protocol/errors.js';
import type { AzsError } from '../protocol/errors.js';
import type { FileDigest } from '../util/fileDigest.js';
import type { BackupStore, Capacity, SessionInfo, StoreEntry } from './store.js';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Wait before the second attempt; each later wait doubles, up to maxDelayMs. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** Told about every retry, e.g. to log it. */
  onRetry?: (operation: string, attempt: number, error: AzsError, delayMs: number) => void;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 4, firstDelayMs: 500, maxDelayMs: 8000 };

export class RetryingStore implements BackupStore {
  private readonly policy: RetryPolicy;

  constructor(
    private readonly inner: BackupStore,
    policy: Partial<RetryPolicy> = {},
  ) {
    this.policy = { ...DEFAULT_RETRY_POLICY, ...policy };
  }

  get location(): string {
    return this.inner.location;
  }

  checkRoot(): Promise<void> {
    return this.retry('checkRoot', () => this.inner.checkRoot());
  }

  mkdir(relativePath: string): Promise<void> {
    return this.retry('mkdir', () => this.inner.mkdir(relativePath));
  }

  writeFile(relativePath: string, source: Readable): Promise<number> {
    return this.inner.writeFile(relativePath, source);
  }

  readFile(relativePath: string): Promise<Readable> {
    return this.retry('readFile', () => this.inner.readFile(relativePath));
  }

  digest(relativePath: string): Promise<FileDigest> {
    return this.retry('digest', () => this.inner.digest(relativePath));
  }

  list(relativePath: string): Promise<StoreEntry[]> {
    return this.retry('list', () => this.inner.list(relativePath));
  }

  stat(relativePath: string): Promise<StoreEntry | null> {
    return this.retry('stat', () => this.inner.stat(relativePath));
  }

  remove(relativePath: string): Promise<void> {
    return this.retry('remove', () => this.inner.remove(relativePath));
  }

  capacity(): Promise<Capacity | null> {
    return this.retry('capacity', () => this.inner.capacity());
  }

  sessionInfo(): Promise<SessionInfo | null> {
    return this.retry('sessionInfo', () => this.inner.sessionInfo());
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private retry<T>(operation: string, action: () => Promise<T>): Promise<T> {
    return retryTransient(this.policy, operation, action);
  }
}

/**
 * Runs `action` until it succeeds, fails for a reason that is not transient, or has used the
 * policy's attempts; also for one idempotent step inside a backend (a blob store's staged block).
 */
export async function retryTransient<T>(
  policy: RetryPolicy,
  operation: string,
  action: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await action();
    } catch (error) {
      if (!isAzsError(error, 'ShareUnreachable') || attempt >= policy.attempts) throw error;
      const delayMs = Math.min(policy.firstDelayMs * 2 ** (attempt - 1), policy.maxDelayMs);
      policy.onRetry?.(operation, attempt, error, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
