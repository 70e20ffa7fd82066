/**
 * From smbclient's output to the store failure it stands for. smbclient's exit code is not enough:
 * several commands (allinfo, mkdir on a read-only share) print an NT_STATUS and still exit 0, so the
 * status words in its output decide, and the exit code only catches failures that print none.
 */
import { AzsError } from '../protocol/errors.js';
import { StoreError } from './storeError.js';

const SHARE = { backend: 'share' } as const;
import type { ErrorReason } from '../protocol/errors.js';

const REASON_BY_STATUS: Record<string, ErrorReason> = {
  NT_STATUS_LOGON_FAILURE: 'AuthenticationFailed',
  NT_STATUS_ACCOUNT_LOCKED_OUT: 'AuthenticationFailed',
  NT_STATUS_PASSWORD_EXPIRED: 'AuthenticationFailed',
  NT_STATUS_PASSWORD_MUST_CHANGE: 'AuthenticationFailed',
  NT_STATUS_ACCOUNT_DISABLED: 'AuthenticationFailed',
  NT_STATUS_ACCOUNT_RESTRICTION: 'AuthenticationFailed',
  NT_STATUS_WRONG_PASSWORD: 'AuthenticationFailed',
  NT_STATUS_NO_SUCH_USER: 'AuthenticationFailed',
  NT_STATUS_BAD_NETWORK_NAME: 'PathNotFound',
  NT_STATUS_OBJECT_PATH_NOT_FOUND: 'PathNotFound',
  NT_STATUS_OBJECT_NAME_NOT_FOUND: 'PathNotFound',
  NT_STATUS_NO_SUCH_FILE: 'PathNotFound',
  NT_STATUS_NOT_A_DIRECTORY: 'PathNotFound',
  NT_STATUS_CONNECTION_REFUSED: 'ShareUnreachable',
  NT_STATUS_CONNECTION_RESET: 'ShareUnreachable',
  NT_STATUS_CONNECTION_DISCONNECTED: 'ShareUnreachable',
  NT_STATUS_CONNECTION_ABORTED: 'ShareUnreachable',
  NT_STATUS_NETWORK_UNREACHABLE: 'ShareUnreachable',
  NT_STATUS_HOST_UNREACHABLE: 'ShareUnreachable',
  NT_STATUS_IO_TIMEOUT: 'ShareUnreachable',
  NT_STATUS_END_OF_FILE: 'ShareUnreachable',
  NT_STATUS_PIPE_BROKEN: 'ShareUnreachable',
  NT_STATUS_NETWORK_NAME_DELETED: 'ShareUnreachable',
  NT_STATUS_DISK_FULL: 'StoreFull',
  NT_STATUS_QUOTA_EXCEEDED: 'StoreFull',
  NT_STATUS_ACCESS_DENIED: 'StoreAccessDenied',
  NT_STATUS_MEDIA_WRITE_PROTECTED: 'StoreAccessDenied',
  NT_STATUS_NETWORK_ACCESS_DENIED: 'StoreAccessDenied',
  NT_STATUS_SHARING_VIOLATION: 'StoreAccessDenied',
};

/**
 * When one run prints several statuses (a full disk is followed by a failed close), the most telling
 * wins: a logon or capacity fault explains a later disconnect, never the other way round.
 */
const PRIORITY: ErrorReason[] = [
  'AuthenticationFailed',
  'StoreFull',
  'StoreAccessDenied',
  'PathNotFound',
  'ShareUnreachable',
  'StoreFault',
];

/** Failures before any command runs, which print a status no table row explains. */
const CONNECT_FAILURE = /do_connect: Connection to .* failed|Unable to resolve|resolve_name/;
const NEGOTIATION_FAILURE = /protocol negotiation failed/;
const ENCRYPTION_FAILURE =
  /encryption required|smb2cli_session_encryption_on|Encryption is required|encrypt/i;

/** Every NT_STATUS word in the output, in order. */
export function statusesIn(output: string): string[] {
  return output.match(/NT_STATUS_[A-Z0-9_]+/g) ?? [];
}

export function reasonForStatus(status: string): ErrorReason {
  return REASON_BY_STATUS[status] ?? 'StoreFault';
}

/** What a failed run was doing, for the message: never a secret. */
export interface SmbFailureContext {
  /** `\\server\share\folder` as the operator wrote it. */
  location: string;
  host: string;
  share: string;
  /** The store-relative path the command was about ('' for the root). */
  target: string;
  user: string | null;
  requireEncryption: boolean;
}

/** The most telling status among `statuses`, or null when there is none. */
export function decisiveStatus(statuses: string[]): string | null {
  let best: string | null = null;
  for (const status of statuses) {
    if (
      best === null ||
      PRIORITY.indexOf(reasonForStatus(status)) < PRIORITY.indexOf(reasonForStatus(best))
    ) {
      best = status;
    }
  }
  return best;
}

/** Builds the AzsError for a run that printed `status` (or none: then `output` is the detail). */
export function smbFailure(status: string | null, output: string, context: SmbFailureContext): AzsError {
  const options = { target: context.target || context.location };
  if (status === null || reasonForStatus(status) === 'StoreFault') {
    return faultWithoutReason(status, output, context, options);
  }
  const code = `(${status})`;
  switch (reasonForStatus(status)) {
    case 'AuthenticationFailed':
      return new StoreError(
        'AuthenticationFailed',
        `Logon to '${context.location}' as '${context.user ?? 'guest'}' failed ${code}.`,
        { ...options, parameter: 'Password', facts: SHARE },
      );
    case 'PathNotFound':
      return status === 'NT_STATUS_BAD_NETWORK_NAME'
        ? new StoreError(
            'PathNotFound',
            `Server '${context.host}' has no share named '${context.share}' ${code}.`,
            { ...options, parameter: 'Path', facts: { ...SHARE, finding: 'no-share' } },
          )
        : new StoreError(
            'PathNotFound',
            `'${context.target || context.location}' does not exist on the share ${code}.`,
            { ...options, parameter: 'Path', facts: SHARE },
          );
    case 'ShareUnreachable':
      return new AzsError(
        'ShareUnreachable',
        `The file server '${context.host}' could not be reached or dropped the connection ${code}. Check that it is running and reachable from this host (name, port, firewall), then retry.`,
        options,
      );
    case 'StoreFull':
      return new StoreError('StoreFull', `The share '${context.location}' is out of space ${code}.`, {
        ...options,
        facts: SHARE,
      });
    default:
      return new AzsError(
        'StoreAccessDenied',
        `Access to '${context.target || context.location}' was denied ${code}. Give '${context.user ?? 'guest'}' change (write) permission on the share and its folder, or make the share writable.`,
        { ...options, parameter: 'UserName' },
      );
  }
}

function faultWithoutReason(
  status: string | null,
  output: string,
  context: SmbFailureContext,
  options: { target: string },
): AzsError {
  const detail = telltaleLine(output);
  if (CONNECT_FAILURE.test(output)) return unreachable(detail, context, options);
  if (NEGOTIATION_FAILURE.test(output)) {
    return new AzsError(
      'StoreFault',
      `The server '${context.host}' did not agree on SMB 3.0 or later (${detail}). Enable SMB 3 on the file server; older dialects are refused.`,
      options,
    );
  }
  if (context.requireEncryption && ENCRYPTION_FAILURE.test(output)) {
    return new StoreError(
      'StoreFault',
      `The share '${context.location}' did not accept SMB encryption, which the store's settings require (${detail}).`,
      {
        ...options,
        parameter: 'RequireEncryption',
        facts: { ...SHARE, finding: 'no-encryption', location: context.location, detail },
      },
    );
  }
  return new AzsError(
    'StoreFault',
    `The SMB operation on '${context.target || context.location}' failed${status ? ` (${status})` : ''}: ${detail}. See the file server's log for the cause.`,
    options,
  );
}

function unreachable(detail: string, context: SmbFailureContext, options: { target: string }): AzsError {
  return new StoreError(
    'ShareUnreachable',
    `The file server '${context.host}' could not be reached (${detail}).`,
    {
      ...options,
      facts: { ...SHARE, finding: 'no-server' },
    },
  );
}

/**
 * The line of smbclient's output that says what failed (debug output around it is noise), or the
 * last line when none does.
 */
function telltaleLine(output: string): string {
  const lines = output
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const telling = lines.filter((line) =>
    /NT_STATUS_|fail|error|does not exist|denied|not support/i.test(line),
  );
  return telling.at(-1) ?? lines.at(-1) ?? 'smbclient stopped without saying why';
}
