/**
 * Pushed notifications: the targets (kept sealed in the state folder), and every engine event
 * handed to the channel of each target's kind. A target that keeps refusing messages raises the
 * NotificationTargetRejected alert, which closes when it accepts again or is removed.
 */
import type { EngineEvent } from '../protocol/events.js';
import { AzsError } from '../protocol/errors.js';
import type { NotificationKind, NotificationTarget, NotificationTestResult } from '../protocol/objects.js';
import type { Channel, DeliveryOutcomes } from '../notify/channel.js';
import { isWellFormedSecret } from '../notify/webhookSignature.js';
import type { NotificationTargets, SavedTarget, TargetWithSecret } from '../state/notificationTargets.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import type { StateDir } from '../state/stateDir.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { wildcardToRegExp } from '../util/wildcard.js';
import type { AlertService } from './alerts.js';
import type { EngineEvents } from './events.js';

const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** The Standard Webhooks prefix of a secret given as base64 (whsec_<base64 key>). */
const STANDARD_SECRET_PREFIX = 'whsec_';

/** What each target last did, kept in notification-status.json for Get-AzsBackupNotificationTarget. */
interface TargetStatus {
  LastDeliveryTime: string | null;
  LastError: string | null;
  Rejected: boolean;
}

const UNKNOWN_STATUS: TargetStatus = { LastDeliveryTime: null, LastError: null, Rejected: false };

export interface NotificationDeps {
  state: StateDir;
  clock: Clock;
  log: Logger;
  alerts: AlertService;
  events: EngineEvents;
  targets: NotificationTargets;
}

/** Add-AzsBackupNotificationTarget's request; the secret is sealed, never returned. */
export interface NewNotificationTarget {
  Name: string;
  Kind: NotificationKind;
  Uri: string;
  Secret?: string;
}

export class NotificationService implements DeliveryOutcomes {
  private statusQueue: Promise<unknown> = Promise.resolve();
  private readonly channels: Record<NotificationKind, Channel>;

  /** `createChannels` builds the channels, which report each delivery back to this service. */
  constructor(
    private readonly deps: NotificationDeps,
    createChannels: (outcomes: DeliveryOutcomes) => Record<NotificationKind, Channel>,
  ) {
    this.channels = createChannels(this);
  }

  /** Starts delivery (a webhook outbox left by a previous daemon is sent now) and listens to the engine. */
  start(): void {
    for (const channel of Object.values(this.channels)) channel.start();
    this.deps.events.on((event) => this.dispatch(event));
  }

  async stop(): Promise<void> {
    await Promise.all(Object.values(this.channels).map((channel) => channel.stop()));
  }

  async add(params: NewNotificationTarget): Promise<NotificationTarget> {
    checkTarget(params);
    const saved = await this.deps.targets.add(
      {
        Name: params.Name,
        Kind: params.Kind,
        Uri: params.Uri,
        CreatedTime: this.deps.clock.now().toISOString(),
        secret: params.Secret || null,
      },
      () =>
        new AzsError(
          'NotificationTargetExists',
          `A notification target named '${params.Name}' already exists. Choose another -Name, or remove it first with Remove-AzsBackupNotificationTarget -Name ${params.Name}.`,
          { parameter: 'Name', target: params.Name },
        ),
    );
    this.deps.log.info('notification target added', { name: saved.Name, kind: saved.Kind });
    return this.describe(saved, await this.readStatus());
  }

  async list(name?: string): Promise<NotificationTarget[]> {
    const status = await this.readStatus();
    const targets = (await this.deps.targets.list()).filter(
      (target) => !name || wildcardToRegExp(name).test(target.Name),
    );
    return Promise.all(targets.map((target) => this.describe(target, status)));
  }

  async remove(name: string): Promise<NotificationTarget> {
    const status = await this.readStatus();
    const removed = await this.deps.targets.remove(name, () => notFound(name));
    await this.channels[removed.Kind].forget(removed.Name);
    await this.changeStatus(removed.Name, null);
    this.deps.log.info('notification target removed', { name: removed.Name, kind: removed.Kind });
    return this.describe(removed, status);
  }

  async test(name: string): Promise<NotificationTestResult> {
    const target = (await this.deps.targets.withSecrets()).find(
      (candidate) => candidate.Name.toLowerCase() === name.toLowerCase(),
    );
    if (!target) throw notFound(name);
    const started = Date.now();
    const answer = await this.channels[target.Kind].sendNow(
      target,
      this.deps.events.testEvent(this.deps.clock.now().toISOString()),
    );
    return {
      Name: target.Name,
      Kind: target.Kind,
      Uri: target.Uri,
      ...answer,
      DurationMilliseconds: Date.now() - started,
    };
  }

  accepted(targetName: string): void {
    void this.changeStatus(targetName, {
      LastDeliveryTime: this.deps.clock.now().toISOString(),
      LastError: null,
      Rejected: false,
    });
  }

  rejected(targetName: string, detail: string): void {
    this.deps.log.warn('notification rejected', { name: targetName, detail });
    void this.changeStatus(targetName, { LastError: detail, Rejected: true });
  }

  undelivered(targetName: string, detail: string): void {
    this.deps.log.info('notification not delivered yet', { name: targetName, detail });
    void this.changeStatus(targetName, { LastError: detail });
  }

  private async dispatch(event: EngineEvent): Promise<void> {
    const targets = await this.deps.targets.withSecrets();
    await Promise.all(
      targets
        .filter((target) => this.channels[target.Kind].wants(event))
        .map((target) => this.channels[target.Kind].deliver(target, event)),
    );
  }

  private async describe(
    target: SavedTarget,
    status: Record<string, TargetStatus>,
  ): Promise<NotificationTarget> {
    const own = status[target.Name];
    return {
      Name: target.Name,
      Kind: target.Kind,
      Uri: target.Uri,
      HasSecret: target.sealedSecret !== null,
      CreatedTime: target.CreatedTime,
      PendingMessages: await this.channels[target.Kind].pending(target.Name),
      LastDeliveryTime: own?.LastDeliveryTime ?? null,
      LastError: own?.LastError ?? null,
    };
  }

  private get statusFile(): string {
    return this.deps.state.notificationStatusFile;
  }

  private async readStatus(): Promise<Record<string, TargetStatus>> {
    return (await readJsonIfExists<Record<string, TargetStatus>>(this.statusFile)) ?? {};
  }

  /**
   * Records what a target did (null: forget it), then opens or closes the NotificationTargetRejected
   * alert for the targets that refuse messages now.
   */
  private changeStatus(targetName: string, change: Partial<TargetStatus> | null): Promise<void> {
    const next = this.statusQueue.then(async () => {
      const status = await this.readStatus();
      if (change === null) delete status[targetName];
      else status[targetName] = { ...UNKNOWN_STATUS, ...status[targetName], ...change };
      await writeJsonAtomic(this.statusFile, status);
      const rejecting = Object.entries(status)
        .filter(([, own]) => own.Rejected)
        .map(([name, own]) => `${name} (${own.LastError ?? 'refused'})`);
      await this.deps.alerts.setCondition(
        'NotificationTargetRejected',
        rejecting.length
          ? `Notification targets refuse the messages sent to them: ${rejecting.join('; ')}.`
          : null,
      );
    });
    this.statusQueue = next.catch((error: unknown) =>
      this.deps.log.warn('notification status not saved', {
        error: String((error as Error).message ?? error),
      }),
    );
    return next;
  }
}

function notFound(name: string): AzsError {
  return new AzsError(
    'NotificationTargetNotFound',
    `There is no notification target named '${name}'. Get-AzsBackupNotificationTarget lists them.`,
    { parameter: 'Name', target: name },
  );
}

/** Checks a new target's name, address and secret for its kind; throws naming the parameter at fault. */
export function checkTarget({
  Name,
  Kind,
  Uri,
  Secret,
}: Pick<TargetWithSecret, 'Name' | 'Kind' | 'Uri'> & { Secret?: string }): void {
  if (!TARGET_NAME.test(Name)) {
    throw new AzsError(
      'InvalidParameter',
      `Name '${Name}' is not a valid target name: use 1 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit.`,
      { parameter: 'Name', target: Name },
    );
  }
  const problem = uriProblem(Kind, Uri);
  if (problem)
    throw new AzsError('InvalidParameter', `Uri '${redactUri(Uri)}' ${problem}`, { parameter: 'Uri' });
  if (Secret && !isWellFormedSecret(Secret)) {
    throw new AzsError(
      'InvalidParameter',
      "Secret starts with 'whsec_' but the rest is not base64, so no receiver could check the signatures. Give the secret exactly as the receiver shows it ('whsec_' and base64), or a plain text secret without that prefix.",
      { parameter: 'Secret' },
    );
  }
  if (Secret && Kind !== 'Webhook') {
    throw new AzsError(
      'InvalidParameter',
      `Secret applies only to Webhook targets (it signs each message); a ${Kind} target takes none. Leave -Secret out.`,
      { parameter: 'Secret' },
    );
  }
  if (Secret?.startsWith(STANDARD_SECRET_PREFIX) && !isBase64(Secret.slice(STANDARD_SECRET_PREFIX.length))) {
    // A receiver decodes what follows whsec_ as the key: a typo here would make every signature fail.
    throw new AzsError(
      'InvalidParameter',
      `Secret starts with '${STANDARD_SECRET_PREFIX}' but what follows is not base64. Copy the whole secret the receiver gave, or give a plain-text secret without the prefix.`,
      { parameter: 'Secret' },
    );
  }
}

function isBase64(text: string): boolean {
  return text.length > 0 && text.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(text);
}

function uriProblem(kind: NotificationKind, uri: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    return kind === 'Syslog'
      ? 'is not a syslog address. Write it as udp://host:port or tcp://host:port, e.g. udp://127.0.0.1:514.'
      : 'is not an absolute http:// or https:// URL, e.g. https://hooks.example.com/azsbackup.';
  }
  if (parsed.username || parsed.password)
    return 'holds a user name or password; a URL must not carry credentials (they would show wherever the target is listed). Use -Secret to sign webhook messages.';
  if (kind === 'Syslog') {
    if (
      !['udp:', 'tcp:'].includes(parsed.protocol) ||
      !parsed.hostname ||
      !parsed.port ||
      (parsed.pathname !== '' && parsed.pathname !== '/') ||
      parsed.search
    )
      return 'is not a syslog address. Write it as udp://host:port or tcp://host:port, e.g. udp://127.0.0.1:514.';
    return null;
  }
  if (!['http:', 'https:'].includes(parsed.protocol))
    return `is not an http:// or https:// URL; a ${kind} target is called over HTTP, e.g. https://hooks.example.com/azsbackup.`;
  return null;
}

/** A URL as it may be shown in an error or a log: no user information, no query string. */
function redactUri(uri: string): string {
  try {
    const parsed = new URL(uri);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return uri.replace(/[?#].*$/, '').replace(/\/\/[^/@]*@/, '//');
  }
}
