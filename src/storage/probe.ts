/**
 * The store check behind configuration validation and Test-AzsBackupShareAccessibility: reach the
 * root, write a random probe file, read it back, delete it, and measure free capacity. Each check
 * gives a result with a fix; the first failed check ends the run (later checks cannot succeed).
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { AzsError } from '../protocol/errors.js';
import type { ShareTest } from '../protocol/objects.js';
import { formatCapacity } from '../util/format.js';
import type { BackupStore } from './store.js';

const PROBE_BYTES = 64 * 1024;

export interface ProbeReport {
  tests: ShareTest[];
  /** The first failure, kept whole so a caller can raise it as the error it is. */
  failure: AzsError | null;
}

export async function probeStore(store: BackupStore): Promise<ProbeReport> {
  const report: ProbeReport = { tests: [], failure: null };
  const run = async (check: string, action: () => Promise<string>): Promise<boolean> => {
    try {
      report.tests.push({ Check: check, Passed: true, Detail: await action(), Fix: null });
      return true;
    } catch (error) {
      const failure =
        error instanceof AzsError
          ? error
          : new AzsError('StoreFault', String((error as Error).message ?? error), { cause: error });
      report.tests.push({ Check: check, Passed: false, Detail: failure.message, Fix: fixFor(failure) });
      report.failure = failure;
      return false;
    }
  };
  const probeName = `.azsbackup-probe-${randomBytes(8).toString('hex')}`;
  const content = randomBytes(PROBE_BYTES);
  const steps: Array<[string, () => Promise<string>]> = [
    ['Reachability', async () => (await store.checkRoot(), `'${store.location}' is reachable.`)],
    ['Protocol', async () => describeSession(await store.sessionInfo())],
    [
      'Write',
      async () => (
        await store.writeFile(probeName, Readable.from([content])),
        `Wrote a ${PROBE_BYTES}-byte probe file.`
      ),
    ],
    ['Read', async () => verifyProbe(store, probeName, content)],
    ['Delete', async () => (await store.remove(probeName), 'Deleted the probe file.')],
    ['Capacity', async () => `${formatCapacity((await store.capacity()).availableBytes)} available.`],
  ];
  for (const [check, action] of steps) {
    if (!(await run(check, action))) break;
  }
  if (report.failure) await store.remove(probeName).catch(() => undefined);
  return report;
}

function describeSession(info: Awaited<ReturnType<BackupStore['sessionInfo']>>): string {
  if (!info) return 'Local folder: no network protocol involved.';
  return `${info.protocol}, ${info.encrypted ? 'encrypted' : 'not encrypted'}, ${info.signed ? 'signed' : 'not signed'}.`;
}

async function verifyProbe(store: BackupStore, name: string, expected: Buffer): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.readFile(name)) chunks.push(chunk as Buffer);
  if (!Buffer.concat(chunks).equals(expected)) {
    throw new AzsError(
      'StoreFault',
      'The probe file read back differs from what was written: the store corrupts data.',
    );
  }
  return 'Read the probe file back intact.';
}

function fixFor(error: AzsError): string {
  switch (error.reason) {
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
