/**
 * Polls until a condition holds, or fails naming what never happened: a test that waits on a real
 * part (pwsh, Samba, a daemon, a child process) must not wait forever when that part is missing or dead.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`${what} did not happen within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(intervalMs);
  }
}
