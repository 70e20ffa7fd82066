/**
 * From the blob service's answers to the store failure they stand for. Messages name the status and
 * the service's error code, never the service's own text or a URL: either may carry a SAS signature.
 */
import type { RestError } from '@azure/storage-blob';
import { AzsError } from '../protocol/errors.js';
import type { BlobCredential, BlobLocation } from './blobLocation.js';
import { StoreError } from './storeError.js';

const CONTAINER = { backend: 'container' } as const;

/** What a failed request was about, for the message. */
export interface BlobFailureContext {
  /** The container URL as the operator wrote it (no secret). */
  location: string;
  blobLocation: BlobLocation;
  credential: BlobCredential;
  /** The store-relative path ('' for the root). */
  target: string;
}

/** Codes the service answers when the account or a limit has no room left. */
const FULL = /Quota|CapacityExceeded|LimitExceeded|AccountIsFull/i;
/**
 * 403 codes of a credential that was accepted but does not allow this operation (a SAS without the
 * permission, or limited to other addresses or to HTTPS). Every other 403 is a refused credential:
 * Azure answers a wrong key or an expired SAS with AuthenticationFailed, Azurite with
 * AuthorizationFailure.
 */
const NOT_PERMITTED = /^Authorization(Permission|ResourceType|Service|SourceIP|Protocol)Mismatch$/;
/** Codes of a change refused because the container's immutability policy or a legal hold keeps the blob. */
const KEPT_BY_POLICY = /Immutab|LegalHold/i;
/** Codes of a change refused because another client holds a lease on the blob. */
const LEASED = /LeaseIdMissing|LeasePresent/i;

/**
 * The SDK's failure of a request. By name, as the SDK's own `isRestError` tells it: this module must
 * not load the SDK (blobStore.ts loads it on first use).
 */
function isRestError(error: unknown): error is RestError {
  return error instanceof Error && error.name === 'RestError';
}

export function blobFailure(error: unknown, context: BlobFailureContext): AzsError {
  if (error instanceof AzsError) return error;
  if (error instanceof Error && error.name === 'AbortError') {
    // The SDK aborts a request that met the store's deadline, and a download whose connection dropped.
    return unreachable('(no answer in time, or the connection dropped)', context, { target: where(context) });
  }
  if (!isRestError(error)) {
    return new AzsError('StoreFault', `The blob operation on '${where(context)}' failed: ${String(error)}.`, {
      target: where(context),
      cause: error,
    });
  }
  const code = error.code ?? '';
  const status = error.statusCode;
  const said = `(${[status === undefined ? '' : `HTTP ${status}`, code].filter(Boolean).join(' ') || 'no answer'})`;
  const options = { target: where(context), cause: error };
  if (status === undefined || status === 408) return unreachable(said, context, options);
  if (status === 500 || status === 503) {
    return new AzsError(
      'ShareUnreachable',
      `The blob service at '${context.location}' is busy or throttling requests ${said}.`,
      options,
    );
  }
  if (status === 507 || FULL.test(code)) {
    return new StoreError(
      'StoreFull',
      `The storage account of '${context.location}' has no room left ${said}.`,
      {
        ...options,
        facts: CONTAINER,
      },
    );
  }
  if (status === 404) return notFound(code, said, context, options);
  if (status === 401 || (status === 403 && !NOT_PERMITTED.test(code))) {
    return authenticationFailed(said, context, options);
  }
  if (status === 409 && KEPT_BY_POLICY.test(code)) {
    return new StoreError(
      'StoreAccessDenied',
      `The container's immutability policy (or a legal hold) keeps '${where(context)}': it cannot be deleted or rewritten until the policy's period has passed ${said}.`,
      { ...options, facts: { ...CONTAINER, finding: 'kept-by-policy' } },
    );
  }
  if (status === 403 || (status === 409 && LEASED.test(code))) {
    return new StoreError(
      'StoreAccessDenied',
      `The blob service refused the operation on '${where(context)}' ${said}.`,
      { ...options, parameter: 'Password', facts: CONTAINER },
    );
  }
  return new AzsError('StoreFault', `The blob operation on '${where(context)}' failed ${said}.`, options);
}

/** A download whose body stopped coming for `seconds` while it was read (the connection still open). */
export function stalledDownload(context: BlobFailureContext, seconds: number): AzsError {
  return unreachable(`(nothing received for ${seconds} s)`, context, { target: where(context) });
}

/** True for the answer that means "no blob of that name". */
export function isBlobNotFound(error: unknown): boolean {
  return isRestError(error) && error.statusCode === 404 && error.code !== 'ContainerNotFound';
}

function where(context: BlobFailureContext): string {
  return context.target || context.location;
}

function unreachable(said: string, context: BlobFailureContext, options: { target: string }): AzsError {
  const host = new URL(context.blobLocation.containerUrl).host;
  return new StoreError(
    'ShareUnreachable',
    `The blob endpoint '${host}' could not be reached or dropped the connection ${said}.`,
    { ...options, facts: { ...CONTAINER, finding: 'no-server' } },
  );
}

function notFound(
  code: string,
  said: string,
  context: BlobFailureContext,
  options: { target: string },
): AzsError {
  const { account, container } = context.blobLocation;
  return code === 'ContainerNotFound'
    ? new StoreError(
        'PathNotFound',
        `The storage account '${account}' has no container named '${container}' ${said}.`,
        { ...options, parameter: 'Path', facts: { ...CONTAINER, finding: 'no-container' } },
      )
    : new StoreError('PathNotFound', `'${where(context)}' does not exist in the container ${said}.`, {
        ...options,
        parameter: 'Path',
        facts: CONTAINER,
      });
}

/** Names the SAS token's expiry when it has one: an expired token is the commonest cause. */
function authenticationFailed(
  said: string,
  context: BlobFailureContext,
  options: { target: string },
): AzsError {
  const { credential } = context;
  const expired =
    credential.kind === 'sas' && credential.expires !== null && credential.expires <= new Date();
  const who =
    credential.kind === 'sas'
      ? `The SAS token for '${context.location}'${credential.expires ? ` (valid until ${credential.expires.toISOString()}${expired ? ', expired' : ''})` : ''}`
      : credential.kind === 'key'
        ? `The account key of '${credential.account}'`
        : `Anonymous access to '${context.location}'`;
  return new StoreError('AuthenticationFailed', `${who} was refused ${said}.`, {
    ...options,
    parameter: 'Password',
    facts: { ...CONTAINER, ...(expired ? { finding: 'expired-sas' } : {}) },
  });
}
