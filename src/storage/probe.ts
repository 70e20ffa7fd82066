/**
 * The store check behind configuration validation and the share accessibility test: reach the
 * root, write a random probe file, read it back, delete it, and measure free capacity. Each check
 * gives a result; the first failed check ends the run (later checks cannot succeed). The engine
 * words the fix for a failure (engine/storeAdvice.ts).
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { AzsError } from '../protocol/errors.js';
import { formatCapacity } from '../util/format.js';
import type { BackupStore, Capacity } from './store.js';
import { storeFactsOf } from './storeError.js';

const PROBE_BYTES = 64 * 1024;

export interface ProbeCheck {
  check: string;
  passed: boolean;
  /** What the check found, or the failure's message. */
  detail: string;
}

export interface ProbeReport {
  checks: ProbeCheck[];
  /** The first failure, kept whole so a caller can raise it as the error it is. */
  failure: AzsError | null;
}

export async function probeStore(store: BackupStore): Promise<ProbeReport> {
  const report: ProbeReport = { checks: [], failure: null };
  const run = async (check: string, action: () => Promise<string>): Promise<boolean> => {
    try {
      report.checks.push({ check, passed: true, detail: await action() });
      return true;
    } catch (error) {
      const failure =
        error instanceof AzsError
          ? error
          : new AzsError('StoreFault', String((error as Error).message ?? error), { cause: error });
      report.checks.push({ check, passed: false, detail: failure.message });
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
    ['Delete', async () => deleteProbe(store, probeName)],
    ['Capacity', async () => describeCapacity(await store.capacity())],
  ];
  for (const [check, action] of steps) {
    if (!(await run(check, action))) break;
  }
  if (report.failure) await store.remove(probeName).catch(() => undefined);
  return report;
}

/**
 * A container whose immutability policy keeps every blob for its period refuses the delete, as it
 * will refuse retention's until backups are older than the period: that is the policy working, not a
 * fault, so the check passes and says the probe file stays (docs/storage.md, "Immutability").
 */
async function deleteProbe(store: BackupStore, name: string): Promise<string> {
  try {
    await store.remove(name);
    return 'Deleted the probe file.';
  } catch (error) {
    if (storeFactsOf(error)?.finding !== 'kept-by-policy') throw error;
    return `Not deleted: the container's immutability policy keeps the ${PROBE_BYTES}-byte probe file '${name}' until its period has passed (retention can delete backups only once they are older than that period).`;
  }
}

function describeSession(info: Awaited<ReturnType<BackupStore['sessionInfo']>>): string {
  if (!info) return 'Local folder: no network protocol involved.';
  return `${info.protocol}, ${info.encrypted ? 'encrypted' : 'not encrypted'}, ${info.signed ? 'signed' : 'not signed'}.`;
}

function describeCapacity(capacity: Capacity | null): string {
  if (!capacity) return 'Unknown: the store has no fixed size and does not tell its free space.';
  return `${formatCapacity(capacity.availableBytes)} available.`;
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
