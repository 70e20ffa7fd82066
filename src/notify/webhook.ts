/**
 * The Webhook channel: every alert change and job end is POSTed as `{ type, timestamp, data }`,
 * signed as Standard Webhooks says when the target has a secret. A message is saved in the outbox
 * before its first try and stays there until the target answers 2xx (accepted) or another 4xx
 * (refused for good, dropped); a refused connection, a timeout, 429 or 5xx is tried again with
 * backoff under the same webhook-id, across daemon restarts, for at least `maxAgeMs`.
 */
import { randomBytes } from 'node:crypto';
import type { EngineEvent } from '../protocol/events.js';
import type { TargetWithSecret } from '../state/notificationTargets.js';
import type { Channel, ChannelOptions, DeliveryResult } from './channel.js';
import { Outbox, type OutboxMessage, type QueuedMessage } from './outbox.js';
import { postWebhook, type PostAnswer } from './webhookPost.js';

export interface WebhookTiming {
  /** The wait before the next try after `failures` failed tries in a row. */
  retryDelayMs(failures: number): number;
  /** How long a message is tried before it is dropped. */
  maxAgeMs: number;
  /** How long one try waits for an answer. */
  timeoutMs: number;
}

const MAX_RETRY_DELAY_MS = 5 * 60_000;

/** 1 s, 2 s, 4 s … doubling up to 5 minutes; kept 24 h; 10 s per try. */
export const DEFAULT_TIMING: WebhookTiming = {
  retryDelayMs: (failures) => Math.min(1000 * 2 ** Math.max(0, failures - 1), MAX_RETRY_DELAY_MS),
  maxAgeMs: 24 * 3600_000,
  timeoutMs: 10_000,
};

const SENT_EVENTS: ReadonlySet<EngineEvent['type']> = new Set([
  'alert.opened',
  'alert.closed',
  'backup.completed',
  'restore.completed',
  'prune.completed',
]);

/** What a target's messages are doing: at most one try at a time, and a pending retry. */
interface TargetQueue {
  sending: Promise<void>;
  retryTimer: NodeJS.Timeout | null;
  failures: number;
}

export class WebhookChannel implements Channel {
  private readonly outbox: Outbox;
  private readonly queues = new Map<string, TargetQueue>();
  private stopping = new AbortController();

  constructor(
    private readonly options: ChannelOptions,
    private readonly timing: WebhookTiming = DEFAULT_TIMING,
  ) {
    this.outbox = new Outbox(options.folder);
  }

  wants(event: EngineEvent): boolean {
    return SENT_EVENTS.has(event.type);
  }

  async deliver(target: TargetWithSecret, event: EngineEvent): Promise<void> {
    await this.outbox.add(target.Name, newMessage(event, this.options.clock.now()));
    this.kick(target.Name);
  }

  /** The test event goes straight out, once, and its answer counts like any delivery's. */
  async sendNow(target: TargetWithSecret, event: EngineEvent): Promise<DeliveryResult> {
    const message = newMessage(event, this.options.clock.now());
    const { verdict, ...result } = await this.post(target, message);
    this.report(target.Name, verdict, result.Response);
    return result;
  }

  pending(targetName: string): Promise<number> {
    return this.outbox.count(targetName);
  }

  async forget(targetName: string): Promise<void> {
    const queue = this.queues.get(targetName.toLowerCase());
    if (queue?.retryTimer) clearTimeout(queue.retryTimer);
    this.queues.delete(targetName.toLowerCase());
    await this.outbox.forget(targetName);
  }

  /** Sends what a previous daemon left in the outbox. */
  start(): void {
    this.stopping = new AbortController();
    this.outbox
      .targetsWaiting()
      .then((names) => names.forEach((name) => this.kick(name)))
      .catch((error: unknown) =>
        this.options.log.warn('webhook outbox not read', {
          error: String((error as Error).message ?? error),
        }),
      );
  }

  /** Ends the retry timers and the tries under way; every unsent message stays in the outbox. */
  async stop(): Promise<void> {
    this.stopping.abort();
    const queues = [...this.queues.values()];
    for (const queue of queues) if (queue.retryTimer) clearTimeout(queue.retryTimer);
    await Promise.all(queues.map((queue) => queue.sending));
    this.queues.clear();
  }

  /** Starts sending a target's messages unless a retry is already scheduled (it keeps their order). */
  private kick(targetName: string): void {
    const key = targetName.toLowerCase();
    const queue = this.queues.get(key) ?? { sending: Promise.resolve(), retryTimer: null, failures: 0 };
    this.queues.set(key, queue);
    if (queue.retryTimer || this.stopping.signal.aborted) return;
    queue.sending = queue.sending
      .then(() => this.drain(key, queue))
      .catch((error: unknown) => {
        this.options.log.warn('webhook delivery failed', {
          name: targetName,
          error: String((error as Error).message ?? error),
        });
      });
  }

  /** Sends a target's messages oldest first, until none is left or one must wait for a retry. */
  private async drain(key: string, queue: TargetQueue): Promise<void> {
    while (!queue.retryTimer && !this.stopping.signal.aborted && this.queues.get(key) === queue) {
      const message = await this.outbox.first(key);
      if (!message) return;
      const target = (await this.options.targets()).find((saved) => saved.Name.toLowerCase() === key);
      if (!target) {
        // Its target was removed while the message waited.
        await this.outbox.forget(key);
        return;
      }
      await this.settle(target, message, queue, await this.post(target, message));
    }
  }

  /** What a try's answer does to the message: removed when accepted or refused, else retried or dropped. */
  private async settle(
    target: TargetWithSecret,
    message: QueuedMessage,
    queue: TargetQueue,
    answer: PostAnswer,
  ): Promise<void> {
    // Stopped or forgotten while the try was under way: the message stays, or went with its target.
    if (this.stopping.signal.aborted || this.queues.get(target.Name.toLowerCase()) !== queue) return;
    const expired =
      this.options.clock.now().getTime() - Date.parse(message.createdTime) >= this.timing.maxAgeMs;
    if (answer.verdict === 'retry' && !expired) {
      queue.failures += 1;
      this.report(target.Name, answer.verdict, answer.Response);
      this.scheduleRetry(target.Name, queue);
      return;
    }
    queue.failures = 0;
    // Settled: the message leaves the outbox before anyone is told, so what they see next is the
    // outbox as it stays.
    await this.outbox.remove(message);
    if (answer.verdict === 'retry') {
      this.options.log.warn('webhook message dropped: not delivered within its time limit', {
        ...describe(target, message),
        hours: this.timing.maxAgeMs / 3600_000,
        detail: answer.Response,
      });
    } else if (answer.verdict === 'rejected') {
      this.options.log.warn('webhook message dropped: refused by the target', {
        ...describe(target, message),
        detail: answer.Response,
      });
    }
    this.report(target.Name, answer.verdict, answer.Response);
  }

  private scheduleRetry(targetName: string, queue: TargetQueue): void {
    queue.retryTimer = setTimeout(() => {
      queue.retryTimer = null;
      this.kick(targetName);
    }, this.timing.retryDelayMs(queue.failures));
  }

  private post(target: TargetWithSecret, message: OutboxMessage): Promise<PostAnswer> {
    return postWebhook({
      uri: target.Uri,
      id: message.id,
      body: message.body,
      secret: target.secret,
      timeoutMs: this.timing.timeoutMs,
      signal: this.stopping.signal,
    });
  }

  private report(targetName: string, verdict: PostAnswer['verdict'], detail: string): void {
    if (verdict === 'accepted') this.options.outcomes.accepted(targetName);
    else if (verdict === 'rejected') this.options.outcomes.rejected(targetName, detail);
    else this.options.outcomes.undelivered(targetName, detail);
  }
}

function newMessage(event: EngineEvent, now: Date): OutboxMessage {
  return {
    id: `msg_${randomBytes(16).toString('hex')}`,
    type: event.type,
    createdTime: now.toISOString(),
    body: JSON.stringify({ type: event.type, timestamp: event.timestamp, data: event.data }),
  };
}

/** A message as the log names it: by its target's name (never the URL, which may hold a token). */
function describe(target: TargetWithSecret, message: OutboxMessage): Record<string, string> {
  return { name: target.Name, id: message.id, type: message.type };
}
