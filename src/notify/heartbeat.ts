/**
 * The Heartbeat channel: a dead-man's switch as healthchecks.io and similar services expect it.
 * `GET <uri>/start` when a backup starts, `GET <uri>` when it succeeds, `GET <uri>/fail` when it
 * fails, ends partly or is cancelled. A skipped slot sends nothing, like a stopped daemon: the
 * external check then sees a missed run, which is the point. The test event goes to `<uri>/log`,
 * which such services record without changing the check's state.
 *
 * A ping is tried a few times within seconds and then given up: it is not kept in an outbox, since
 * a `/start` or a success that arrives an hour late would tell the external check something false.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { EngineEvent } from '../protocol/events.js';
import type { TargetWithSecret } from '../state/notificationTargets.js';
import type { Channel, ChannelOptions, DeliveryResult } from './channel.js';

export type HeartbeatPing = 'start' | 'success' | 'fail' | 'log';

const PATH_SUFFIX: Record<HeartbeatPing, string> = {
  start: '/start',
  success: '',
  fail: '/fail',
  log: '/log',
};

/** Waits before the second and third try; a ping that needs longer than that is too late anyway. */
const RETRY_DELAYS_MS = [1_000, 3_000];
const ATTEMPT_TIMEOUT_MS = 10_000;
const RESPONSE_CHARS = 200;

/** The ping a backup event calls for, or null when it calls for none. */
export function pingFor(event: EngineEvent): HeartbeatPing | null {
  if (event.type === 'backup.started') return 'start';
  if (event.type !== 'backup.completed') return null;
  switch (event.data.Outcome) {
    case 'Succeeded':
      return 'success';
    case 'Failed':
    case 'PartialSucceeded':
    case 'Cancelled':
      return 'fail';
    default:
      // Skipped (and Running, which never ends a job): no ping, so the external check sees a missed run.
      return null;
  }
}

/** The target's URL with the ping's suffix appended to its path; its query string is kept. */
export function heartbeatUrl(uri: string, ping: HeartbeatPing): string {
  const url = new URL(uri);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${PATH_SUFFIX[ping]}`;
  return url.toString();
}

/** A 4xx other than 429 says the address is wrong (an unknown check): retrying cannot help. */
function isRefusal(status: number): boolean {
  return status >= 400 && status < 500 && status !== 429;
}

export class HeartbeatChannel implements Channel {
  /** Pings of one target go one after the other: a backup's `/start` reaches the service before its end. */
  private readonly queues = new Map<string, Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(readonly options: ChannelOptions) {}

  wants(event: EngineEvent): boolean {
    return pingFor(event) !== null;
  }

  deliver(target: TargetWithSecret, event: EngineEvent): Promise<void> {
    const ping = pingFor(event);
    if (!ping) return Promise.resolve();
    const next = (this.queues.get(target.Name) ?? Promise.resolve()).then(() =>
      this.pingWithRetries(target, ping),
    );
    this.queues.set(target.Name, next);
    return next;
  }

  /** One try, and what came back; the test event (no backup ping) goes to `/log`. */
  async sendNow(target: TargetWithSecret, event: EngineEvent): Promise<DeliveryResult> {
    return this.attempt(target, pingFor(event) ?? 'log');
  }

  async pending(_targetName: string): Promise<number> {
    return 0;
  }

  async forget(targetName: string): Promise<void> {
    this.queues.delete(targetName);
  }

  start(): void {}

  /** Cuts short the tries in flight (each is then reported undelivered) and waits for them. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.queues.values());
  }

  private async pingWithRetries(target: TargetWithSecret, ping: HeartbeatPing): Promise<void> {
    const { outcomes } = this.options;
    for (let tried = 0; ; tried += 1) {
      const result = await this.attempt(target, ping);
      if (result.Succeeded) return outcomes.accepted(target.Name);
      if (result.StatusCode !== null && isRefusal(result.StatusCode))
        return outcomes.rejected(target.Name, `the ${ping} ping was refused: ${result.Response}`);
      const delay = RETRY_DELAYS_MS[tried];
      if (delay === undefined || this.stopping.signal.aborted)
        return outcomes.undelivered(
          target.Name,
          `the ${ping} ping was not delivered after ${tried + 1} tries (${result.Response}); it is not kept, a late ping would mislead`,
        );
      await sleep(delay, undefined, { signal: this.stopping.signal }).catch(() => undefined);
    }
  }

  private async attempt(target: TargetWithSecret, ping: HeartbeatPing): Promise<DeliveryResult> {
    try {
      const response = await fetch(heartbeatUrl(target.Uri, ping), {
        signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
      });
      const body = (await response.text()).slice(0, RESPONSE_CHARS);
      return { Succeeded: response.ok, StatusCode: response.status, Response: body || response.statusText };
    } catch (error) {
      return { Succeeded: false, StatusCode: null, Response: describeFailure(error) };
    }
  }
}

/** Why a request got no answer, without the URL (its path or query may hold the check's token). */
function describeFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `no answer (${cause.code})`;
  if ((error as Error).name === 'TimeoutError') return `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s`;
  if ((error as Error).name === 'AbortError') return 'the daemon was stopping';
  return `no answer (${(error as Error).message ?? String(error)})`;
}
