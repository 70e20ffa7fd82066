/**
 * The operator's advice on a store failure: the stores state facts (storage/storeError.ts), and the
 * engine, which knows the cmdlets and their parameters, adds what to do about it. Every store the
 * engine opens goes through `advisedStore`, so an operator sees the same words whichever engine
 * service met the failure.
 */
import { AzsError } from '../protocol/errors.js';
import type { ShareTest } from '../protocol/objects.js';
import type { ProbeReport } from '../storage/probe.js';
import type { BackupStore } from '../storage/store.js';
import { StoreError } from '../storage/storeError.js';

const PRUNE = 'Invoke-AzsPruneBackupLocationExternalStore';
const CONTAINER_CREDENTIAL =
  'Check -Password: a SAS token for the container, or the account key (with the account name in -UserName).';
const CONTAINER_ACCESS =
  'Give -Password a SAS token with read, add, create, write, delete and list permissions (sp=racwdl), or the account key; a container under an immutability policy refuses deletes until the retention ends.';

/** What to do, appended to the store's own message; null where the message says enough. */
function adviceFor(error: StoreError): string | null {
  const { backend, finding } = error.facts;
  switch (error.reason) {
    case 'PathNotFound':
      if (finding === 'no-share') return 'Correct the share name in -Path.';
      if (finding === 'no-container')
        return 'Create the container in the storage account, or correct the container name in -Path.';
      return backend === 'share'
        ? 'Create the folder on the share or correct -Path.'
        : 'Create the folder or correct -Path.';
    case 'StoreAccessDenied':
      if (finding === 'kept-by-policy')
        return "Keep the container's time-based retention (immutability) period shorter than -BackupRetentionPeriodInDays: what it keeps can be deleted only once the period has passed.";
      if (backend === 'container') return CONTAINER_ACCESS;
      return backend === 'folder'
        ? "Give the daemon's account write access to the folder, or choose another -Path."
        : null;
    case 'StoreFull':
      if (backend === 'container')
        return "Raise the storage account's quota, or lower -BackupRetentionPeriodInDays.";
      return backend === 'share'
        ? 'Free space on it, raise its quota, or lower -BackupRetentionPeriodInDays.'
        : 'Free space on it or lower -BackupRetentionPeriodInDays.';
    case 'AuthenticationFailed':
      if (finding === 'expired-sas') return 'Give a new SAS token through -Password.';
      if (backend === 'container') return CONTAINER_CREDENTIAL;
      return 'Check -UserName and -Password, and that the account is enabled, not locked out and its password not expired.';
    case 'ShareUnreachable':
      return finding === 'no-server'
        ? 'Check the server name and port in -Path, that the server is running, and the firewall.'
        : null;
    case 'StorePathUnsafe':
      return finding === 'link'
        ? `Remove the link from the store: ${PRUNE} removes links under MASBackup.`
        : `Remove it from the store: ${PRUNE} removes what is not a backup's file under MASBackup.`;
    default:
      return null;
  }
}

function operatorMessage(error: StoreError): string {
  const { finding, location, detail } = error.facts;
  if (finding === 'bad-setting') return `-${error.parameter} ${error.message}`;
  if (finding === 'no-encryption')
    return `The share '${location}' did not accept SMB encryption, and -RequireEncryption demands it (${detail}). Enable SMB encryption on the file server, or turn off -RequireEncryption.`;
  const advice = adviceFor(error);
  return advice === null ? error.message : `${error.message} ${advice}`;
}

/** A store failure as the operator sees it: the store's facts and the advice; anything else as it is. */
export function withOperatorAdvice(error: unknown): unknown {
  if (!(error instanceof StoreError)) return error;
  // The store's own error as the cause: the probe's fix reads its facts (probeFix).
  return new AzsError(error.reason, operatorMessage(error), {
    parameter: error.parameter,
    target: error.target,
    cause: error,
  });
}

/**
 * The store with its failures advised: every operation that fails (readFile's stream once handed
 * over excepted: its mid-transfer failures are connection faults that need no advice).
 */
export function advisedStore(store: BackupStore): BackupStore {
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        return result instanceof Promise
          ? result.catch((error: unknown) => {
              throw withOperatorAdvice(error);
            })
          : result;
      };
    },
  });
}

/** The probe's checks as Test-AzsBackupShareAccessibility shows them, a failed one with its fix. */
export function shareTests(report: ProbeReport): ShareTest[] {
  return report.checks.map(({ check, passed, detail }) => ({
    Check: check,
    Passed: passed,
    Detail: detail,
    Fix: passed ? null : probeFix(report.failure),
  }));
}

/**
 * The fix for a failed check. A blob container's failures get the store advice (a SAS token, a
 * container) rather than the words for a share or folder below.
 */
function probeFix(error: AzsError | null): string {
  const storeFailure = error?.cause instanceof StoreError ? error.cause : null;
  const containerAdvice = storeFailure?.facts.backend === 'container' ? adviceFor(storeFailure) : null;
  if (containerAdvice) return containerAdvice;
  switch (error?.reason) {
    case 'PathNotFound':
      return 'Create the folder on the store, or correct -Path.';
    case 'ShareUnreachable':
      return 'Check that the file server is up and reachable from this host (name, port, firewall).';
    case 'AuthenticationFailed':
      return 'Check -UserName and -Password; make sure the account is enabled and its password has not expired.';
    case 'StoreAccessDenied':
      return 'Give the backup account write access to the folder (share and file-system permissions).';
    case 'StoreFull':
      return 'Free space on the store or point -Path at a larger one.';
    default:
      return 'See the detail; then run Test-AzsBackupShareAccessibility again.';
  }
}
