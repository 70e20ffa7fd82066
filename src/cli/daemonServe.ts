/**
 * The daemon's side of the command line: `azsbackup serve` runs the daemon in this process. Apart
 * from daemonProcess.ts (the client's side) so that every other command starts without loading the
 * engine: main.ts imports this module only when it serves.
 */
import v8 from 'node:v8';
import { Daemon } from '../daemon/server.js';
import { testHookMethods } from '../daemon/testHooks.js';
import { Engine } from '../engine/engine.js';
import { StateDir } from '../state/stateDir.js';
import { openStore } from '../storage/openStore.js';
import { MovableClock, systemClock } from '../util/clock.js';
import { createFileLogger } from '../util/log.js';
import type { SystemLog } from '../util/systemLog.js';
import { endpointOf } from './daemonProcess.js';

export { DaemonAlreadyRunning } from '../daemon/server.js';

/**
 * V8 flags the daemon sets on itself as it starts, whoever started it (Node refuses them in
 * NODE_OPTIONS). V8 lets its old generation grow to up to four times what the last full collection
 * kept before it collects again; a backup promotes many short-lived objects (each chunk's promise and
 * reference outlive the small young generation DAEMON_ENVIRONMENT sets), so on a second backup of
 * 4 GiB the old generation reached 128 MB of which 56 were live, and the daemon peaked at 381 MB.
 * Growing by at most half took `npm run bench -- --incremental --size 4GiB` to 285.7 MB backing up
 * and 266.6 restoring (by at most a factor of two: 303.6 and 282.3), at the cost of more full
 * collections (docs/benchmarks.md, "Format 4: the daemon's heap growth"). V8 reads it at each
 * collection, so setting it at run time takes effect.
 */
export const DAEMON_V8_FLAGS = '--heap-growing-percent=50';

/**
 * Runs the daemon in this process until SIGTERM/SIGINT or daemon.shutdown; with `systemLog` its log
 * lines also go to the operating system's log (the journal, for the systemd service).
 */
export async function serve(
  stateDir: string,
  location: string,
  testHooks = false,
  systemLog?: SystemLog,
): Promise<void> {
  v8.setFlagsFromString(DAEMON_V8_FLAGS);
  const state = await StateDir.open(stateDir, location);
  const log = createFileLogger(state.logFile, systemLog);
  // A daemon holds no terminal: what would have gone to stderr goes to its log instead.
  process.on('unhandledRejection', (error) =>
    log.error('unhandled rejection', { error: String((error as Error)?.stack ?? error) }),
  );
  process.on('uncaughtException', (error) => {
    log.error('uncaught exception; the daemon stops', { error: String(error.stack ?? error) });
    log.on('finish', () => process.exit(1)).end();
  });
  const movableClock = testHooks ? await MovableClock.load(state.testClockFile) : null;
  const engine = new Engine(state, movableClock ?? systemClock, log, { openStore });
  const daemon = new Daemon({
    engine,
    endpoint: endpointOf(stateDir).socket,
    token: await state.ensureToken(),
    extraMethods: movableClock ? testHookMethods(engine, movableClock) : undefined,
  });
  const stopped = daemon.waitUntilStopped();
  await daemon.start();
  await engine.start();
  const stop = () => void daemon.shutdown();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await stopped;
  await daemon.shutdown();
  await new Promise<void>((resolve) => log.on('finish', resolve).end());
}
