/**
 * Store failures state facts, never advice: an AzsError whose reason says which alert it belongs to,
 * with what the engine needs to word its advice to the operator (engine/storeAdvice.ts): which
 * backend failed, and what was found where the reason alone does not say. No store message names a
 * cmdlet or its parameters (a lint rule in eslint.config.js keeps it so).
 */
import { AzsError, type ErrorReason } from '../protocol/errors.js';

export type StoreFinding =
  /** StorePathUnsafe: the path leads through a symbolic link. */
  | 'link'
  /** StorePathUnsafe: something other than a plain file stands there. */
  | 'not-a-file'
  /** PathNotFound: the server has no share of that name. */
  | 'no-share'
  /** PathNotFound: the storage account has no container of that name. */
  | 'no-container'
  /** AuthenticationFailed: the SAS token's expiry (`se=`) has passed. */
  | 'expired-sas'
  /** ShareUnreachable: no connection to the server at all. */
  | 'no-server'
  /** StoreFault: the share refused the encryption the store's settings require. */
  | 'no-encryption'
  /** InvalidParameter: the store setting named by the error's `parameter` cannot be used. */
  | 'bad-setting'
  /**
   * StoreAccessDenied: a blob container's immutability policy (or a legal hold) keeps the blob: it
   * cannot be deleted or rewritten until the policy's period has passed.
   */
  | 'kept-by-policy';

export interface StoreFacts {
  backend: 'folder' | 'share' | 'container';
  finding?: StoreFinding;
  /** Where the store is (as the operator wrote it), when the advice repeats it. */
  location?: string;
  /** What the server or system said, when the advice repeats it. */
  detail?: string;
}

/** The facts of the store failure `error` is or wraps (an advised error keeps it as its cause); null for any other. */
export function storeFactsOf(error: unknown): StoreFacts | null {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current instanceof StoreError) return current.facts;
  }
  return null;
}

export class StoreError extends AzsError {
  readonly facts: StoreFacts;

  constructor(
    reason: ErrorReason,
    message: string,
    options: { parameter?: string; target?: string; cause?: unknown; facts: StoreFacts },
  ) {
    super(reason, message, options);
    this.facts = options.facts;
  }
}
