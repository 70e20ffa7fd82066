/** Finding, starting, calling and stopping the daemon of a state folder (daemonServe.ts runs it). */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DaemonClient } from '../daemon/client.js';
import { isAzsError } from '../protocol/errors.js';
import type { DaemonStatus } from '../protocol/objects.js';
import { StateLayout } from '../state/layout.js';
import { prepareStateFolder } from '../state/stateDir.js';
import { allowlistedEnvironment } from '../util/environment.js';
import { defaultEndpoint, isProcessAlive, resolveStateDir } from '../util/platform.js';
import type { MethodName, ParamsOf, ResultOf } from '../protocol/methods.js';

export interface Endpoint {
  stateDir: string;
  socket: string;
  tokenFile: string;
}

export function endpointOf(stateDir: string): Endpoint {
  const layout = new StateLayout(stateDir);
  return {
    stateDir,
    socket: process.env.AZSBACKUP_SOCKET || defaultEndpoint(stateDir),
    tokenFile: layout.tokenFile,
  };
}

/** The daemon's status, or null when nothing answers on the endpoint. */
export async function queryStatus(endpoint: Endpoint): Promise<DaemonStatus | null> {
  let client: DaemonClient;
  try {
    client = await DaemonClient.connect(endpoint.socket, endpoint.tokenFile);
  } catch (error) {
    // A socket another user may have planted is an answer of its own: starting a daemon would not help.
    if (isAzsError(error, 'EndpointNotPrivate')) throw error;
    return null;
  }
  try {
    return await client.call('daemon.status', {});
  } finally {
    client.close();
  }
}

const STARTUP_TIMEOUT_MS = 20_000;

/**
 * What the daemon's environment adds to the allowlisted part of the caller's (a value the caller set
 * wins), for its memory (measured with `npm run bench`, 1 GiB, on the 2-core target; neither costs
 * measurable speed):
 * - glibc gives each thread that allocates its own malloc arena: the block worker threads allocate
 *   every sealed frame, the main thread frees it once stored, and memory stays stranded in the
 *   workers' arenas. Two arenas: about 35 MB less peak memory. Other C libraries ignore it.
 * - A 4 MB young generation (V8's default grows to 16) collects the short-lived block buffers'
 *   objects sooner: about 15 MB less.
 */
export const DAEMON_ENVIRONMENT: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  NODE_OPTIONS: '--max-semi-space-size=4',
};

/**
 * Node options the daemon's command line carries (`azsbackup start` and the systemd unit put them
 * before the script): V8 reads them only as it makes the heap, and Node refuses them in
 * NODE_OPTIONS. While the old generation is below its initial size, its growth starts no full
 * collection. With the growth above capped at half, the small live heap of a backup of 1 GiB was
 * collected whenever it had grown by a few MB: about 50 full collections in the bench's first
 * backup, 34–40 with this floor, for 0.7 CPU-s less; a larger heap grows as before, so the peak at
 * 4 GiB stays where it was (docs/benchmarks.md, "Format 4: a floor under the old generation,
 * again").
 */
export const DAEMON_NODE_ARGUMENTS: readonly string[] = ['--initial-old-space-size=48'];

/**
 * Starts the daemon for a state folder when none answers: a detached process in its own session,
 * holding none of our stdio, so that `out=$(pwsh -c …)` returns as soon as the cmdlet does, and
 * none of our environment but the allowlisted variables (no AZSBACKUP_PFX_PASSWORD or other secret).
 */
export async function ensureRunning(
  endpoint: Endpoint,
  location: string,
  testHooks = false,
): Promise<DaemonStatus> {
  const running = await queryStatus(endpoint);
  if (running) return running;
  // Checked here too, so that a refused folder is reported to the caller, not only in a log there.
  await prepareStateFolder(endpoint.stateDir);
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      ...DAEMON_NODE_ARGUMENTS,
      main,
      'serve',
      '--state-dir',
      endpoint.stateDir,
      '--location',
      location,
      ...(testHooks ? ['--test-hooks'] : []),
    ],
    {
      detached: true,
      stdio: 'ignore',
      windowsHide: true,
      env: { ...DAEMON_ENVIRONMENT, ...allowlistedEnvironment() },
    },
  );
  child.unref();
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    await sleep(100);
    const status = await queryStatus(endpoint);
    if (status) return status;
    if (child.exitCode !== null) {
      const other = await queryStatus(endpoint);
      if (other) return other;
      throw new Error(
        `The daemon exited at start (code ${child.exitCode}); see ${new StateLayout(endpoint.stateDir).logFile}.`,
      );
    }
  }
  throw new Error(
    `The daemon did not answer within ${STARTUP_TIMEOUT_MS / 1000} s; see ${new StateLayout(endpoint.stateDir).logFile}.`,
  );
}

/** Asks the daemon to stop and waits until its process has gone. Returns false if none ran. */
export async function stopDaemon(endpoint: Endpoint): Promise<boolean> {
  const status = await queryStatus(endpoint);
  if (!status) return false;
  const client = await DaemonClient.connect(endpoint.socket, endpoint.tokenFile);
  await client.call('daemon.shutdown', {}).catch(() => undefined);
  client.close();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && isProcessAlive(status.pid)) await sleep(50);
  return true;
}

/** Calls one method on the running daemon of a state folder (starting it if needed). */
export async function callDaemon<M extends MethodName>(
  stateDirOption: string | undefined,
  method: M,
  params: ParamsOf<M>,
): Promise<ResultOf<M>> {
  const endpoint = endpointOf(resolveStateDir(stateDirOption));
  await ensureRunning(endpoint, 'local');
  const client = await DaemonClient.connect(endpoint.socket, endpoint.tokenFile);
  try {
    return await client.call(method, params);
  } finally {
    client.close();
  }
}
