/** The alert lifecycle: opened once per condition, updated while it lasts, closed when it ends; kept in alerts.json. */
import { randomUUID } from 'node:crypto';
import type { Alert } from '../protocol/objects.js';
import type { StateDir } from '../state/stateDir.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import { DAY_MS, type Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { ALERT_RULES, type AlertKind } from './alertRules.js';

interface StoredAlert extends Alert {
  Kind: AlertKind;
}

/** Closed alerts are kept this many days after they closed (docs/state.md); active ones always. */
export const KEPT_CLOSED_ALERT_DAYS = 90;

/** Told of each alert that opened or closed, once its change is saved. */
export type AlertChangeListener = (type: 'alert.opened' | 'alert.closed', alert: Alert) => void;

type Transition = Parameters<AlertChangeListener>;

function publicAlert({ Kind: _kind, ...alert }: StoredAlert): Alert {
  return alert;
}

export class AlertService {
  /** Alert changes are serialised: each reads, changes and writes alerts.json whole. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly state: StateDir,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly onChanged: AlertChangeListener = () => undefined,
  ) {}

  async list(state?: 'Active' | 'Closed'): Promise<Alert[]> {
    const alerts = await this.read();
    return alerts
      .filter((alert) => !state || alert.State === state)
      .sort((a, b) => b.CreatedTime.localeCompare(a.CreatedTime))
      .map(publicAlert);
  }

  /**
   * Opens the alert of `kind` (or refreshes the open one) with this description. `details` go
   * before the remediation (the rule's unless given): the steps for this occurrence (each failed
   * role's own).
   */
  raise(
    kind: AlertKind,
    description: string,
    options: { backupId?: string | null; details?: string[]; remediation?: string } = {},
  ): Promise<void> {
    const rule = ALERT_RULES[kind];
    const backupId = options.backupId ?? null;
    const remediation = [...(options.details ?? []), options.remediation ?? rule.remediation].join(' ');
    return this.change((alerts, transitions) => {
      const open = alerts.find((alert) => alert.Kind === kind && alert.State === 'Active');
      if (open) {
        open.Description = description;
        open.Remediation = remediation;
        open.BackupId = backupId ?? open.BackupId;
        return;
      }
      const opened: StoredAlert = {
        Kind: kind,
        AlertId: randomUUID(),
        Title: rule.title,
        Severity: rule.severity,
        State: 'Active',
        CreatedTime: this.clock.now().toISOString(),
        ClosedTime: null,
        Description: description,
        Remediation: remediation,
        BackupId: backupId,
      };
      alerts.push(opened);
      transitions.push(['alert.opened', publicAlert(opened)]);
      this.log.warn('alert raised', { kind, description, backupId });
    });
  }

  /** Closes the open alerts of the given kinds. */
  close(kinds: AlertKind[]): Promise<void> {
    return this.change((alerts, transitions) => {
      for (const alert of alerts) {
        if (alert.State !== 'Active' || !kinds.includes(alert.Kind)) continue;
        alert.State = 'Closed';
        alert.ClosedTime = this.clock.now().toISOString();
        transitions.push(['alert.closed', publicAlert(alert)]);
        this.log.info('alert closed', { kind: alert.Kind, alertId: alert.AlertId });
      }
    });
  }

  /** Raises or closes a condition alert as the condition holds or not. */
  async setCondition(kind: AlertKind, description: string | null): Promise<void> {
    if (description) await this.raise(kind, description);
    else await this.close([kind]);
  }

  closeFailures(): Promise<void> {
    return this.close(
      (Object.keys(ALERT_RULES) as AlertKind[]).filter((kind) => ALERT_RULES[kind].type === 'failure'),
    );
  }

  private read(): Promise<StoredAlert[]> {
    return readJsonIfExists<StoredAlert[]>(this.state.alertsFile).then((alerts) => alerts ?? []);
  }

  /** Drops the alerts that closed more than KEPT_CLOSED_ALERT_DAYS ago, as alerts.json is written. */
  private withinBound(alerts: StoredAlert[]): StoredAlert[] {
    const cutoff = new Date(this.clock.now().getTime() - KEPT_CLOSED_ALERT_DAYS * DAY_MS).toISOString();
    return alerts.filter((alert) => alert.ClosedTime === null || alert.ClosedTime >= cutoff);
  }

  private change(mutate: (alerts: StoredAlert[], transitions: Transition[]) => void): Promise<void> {
    const next = this.queue.then(async () => {
      const alerts = await this.read();
      const before = JSON.stringify(alerts);
      const transitions: Transition[] = [];
      mutate(alerts, transitions);
      const kept = this.withinBound(alerts);
      if (JSON.stringify(kept) !== before) await writeJsonAtomic(this.state.alertsFile, kept);
      for (const transition of transitions) this.onChanged(...transition);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}
