/**
 * A notification channel: how events reach one kind of target (Webhook, Heartbeat, Syslog). A
 * channel knows the wire and nothing of jobs: it gets events as src/protocol/events.ts defines them
 * and tells what each target answered through the Outcomes callback.
 */
import type { EngineEvent } from '../protocol/events.js';
import type { TargetWithSecret } from '../state/notificationTargets.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';

/** What a target answered to one message. */
export interface DeliveryResult {
  Succeeded: boolean;
  /** The HTTP status, when the target speaks HTTP and answered. */
  StatusCode: number | null;
  /** The start of the answer, or why nothing was delivered; never a secret. */
  Response: string;
}

/**
 * Told of every delivery: `accepted` once a target took a message, `rejected` when it refused it
 * for good (a webhook's 4xx other than 429), `undelivered` when a try failed and may be retried.
 */
export interface DeliveryOutcomes {
  accepted(targetName: string): void;
  rejected(targetName: string, detail: string): void;
  undelivered(targetName: string, detail: string): void;
}

export interface Channel {
  /** Whether this channel sends this kind of event at all. */
  wants(event: EngineEvent): boolean;
  /** Hands an event to the target: sent now, or queued to be sent (never throws for the target's fault). */
  deliver(target: TargetWithSecret, event: EngineEvent): Promise<void>;
  /** Sends an event at once and returns what the target answered (Test-AzsBackupNotificationTarget). */
  sendNow(target: TargetWithSecret, event: EngineEvent): Promise<DeliveryResult>;
  /** Messages still waiting for the target. */
  pending(targetName: string): Promise<number>;
  /** Drops what waits for a target that was removed. */
  forget(targetName: string): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

/** What every channel is built with. */
export interface ChannelOptions {
  /** A folder of the state folder the channel may keep files in (the webhook outbox). */
  folder: string;
  log: Logger;
  clock: Clock;
  outcomes: DeliveryOutcomes;
  /** The targets as saved now: a message that waited (even across a restart) goes to its target's current address. */
  targets(): Promise<TargetWithSecret[]>;
}
