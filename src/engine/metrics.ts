/**
 * Metrics for Prometheus's textfile collector: <MetricsPath>/azsbackup.prom, rewritten after every
 * job start and end, alert change, free-space measurement and configuration change, and at daemon
 * start. Every figure is read from what the daemon persisted (the job history, alerts.json,
 * config.json, capacity.json), never from counters in memory, so the file after a kill -9 and a
 * restart says what it said before.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { renderMetrics, type MetricsSnapshot } from '../notify/prometheus.js';
import type { Job } from '../protocol/objects.js';
import type { CapacityLog } from '../state/capacityLog.js';
import type { JobHistory } from '../state/jobHistory.js';
import type { SavedConfig, StateDir } from '../state/stateDir.js';
import { writeFileAtomic } from '../util/atomicFile.js';
import type { Logger } from '../util/log.js';
import type { AlertService } from './alerts.js';
import { durationOf, type EngineEvents } from './events.js';

export const METRICS_FILE = 'azsbackup.prom';
/** node_exporter usually runs as its own user: the file must be readable by others. */
const METRICS_FILE_MODE = 0o644;

/** Outcomes of a backup that ran: Skipped (another one was running) and Running are not. */
const BACKUP_ENDED: ReadonlySet<Job['Outcome']> = new Set([
  'Succeeded',
  'PartialSucceeded',
  'Failed',
  'Cancelled',
]);

export interface MetricsDeps {
  state: StateDir;
  log: Logger;
  events: EngineEvents;
  history: JobHistory;
  alerts: AlertService;
  capacity: CapacityLog;
}

export class MetricsService {
  /** The write running (or done): writes are serialised. */
  private current: Promise<void> = Promise.resolve();
  /** The write queued behind it, not started yet: every change until it starts is in it. */
  private queued: Promise<void> | null = null;
  /** Folders MetricsPath no longer names, whose file is removed by the next write. */
  private readonly retired = new Set<string>();
  /** Whether the first write of this daemon has looked for temporary files a killed one left. */
  private leftoversRemoved = false;

  constructor(private readonly deps: MetricsDeps) {}

  start(): void {
    this.deps.events.on(() => this.refresh());
    void this.refresh();
  }

  /**
   * Rewrites the file from the persisted state. A burst of changes coalesces into one write queued
   * behind the running one; that write reads the state when it starts, so it holds every change
   * made before refresh() was called. Never rejects: a failure is logged.
   */
  refresh(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.current.then(() => {
      this.queued = null;
      return this.write().catch((error: unknown) => {
        this.deps.log.warn('metrics file not written', { error: String((error as Error).message ?? error) });
      });
    });
    this.queued = next;
    this.current = next;
    return next;
  }

  /**
   * After a configuration change. A folder MetricsPath no longer names loses its file: a file left
   * there would go on showing old figures as if they were current.
   */
  async configurationChanged(previousFolder: string | null): Promise<void> {
    const { metricsPath } = await this.deps.state.readConfig();
    const current = metricsPath ? path.resolve(metricsPath) : null;
    if (previousFolder && path.resolve(previousFolder) !== current) this.retired.add(previousFolder);
    await this.refresh();
  }

  private async write(): Promise<void> {
    for (const folder of this.retired) {
      await rm(path.join(folder, METRICS_FILE), { force: true });
      this.retired.delete(folder);
      this.deps.log.info('metrics file removed', { folder });
    }
    const config = await this.deps.state.readConfig();
    if (!config.metricsPath) return;
    if (!this.leftoversRemoved) {
      await removeTemporaryLeftovers(config.metricsPath);
      this.leftoversRemoved = true;
    }
    const text = await renderMetrics(await this.snapshot(config));
    await writeFileAtomic(path.join(config.metricsPath, METRICS_FILE), text, METRICS_FILE_MODE);
  }

  private async snapshot(config: SavedConfig): Promise<MetricsSnapshot> {
    const [backups, active, capacity] = await Promise.all([
      this.deps.history.find({ Kind: ['Backup'] }),
      this.deps.alerts.list('Active'),
      this.deps.capacity.latest(),
    ]);
    const ended = backups.filter((job) => BACKUP_ENDED.has(job.Outcome));
    const lastSuccess = ended.find((job) => job.Outcome === 'Succeeded');
    const count = (severity: 'Critical' | 'Warning') =>
      active.filter((alert) => alert.Severity === severity).length;
    return {
      location: this.deps.state.identity.Location,
      lastSuccessSeconds: lastSuccess ? unixSeconds(lastSuccess.EndTime!) : 0,
      lastBackup: ended[0] ? figuresOf(ended[0]) : null,
      storeFreeBytes: capacity?.AvailableBytes ?? null,
      activeAlerts: { Critical: count('Critical'), Warning: count('Warning') },
      certificateExpirySeconds: config.certificate ? unixSeconds(config.certificate.notAfter) : null,
      schedulerEnabled: config.isBackupSchedulerEnabled,
    };
  }
}

/**
 * A daemon killed while writing leaves its temporary file (writeFileAtomic's `.azsbackup.prom.<hex>.tmp`,
 * which the collector ignores); the first write of the next daemon removes it. Writes are serialised,
 * so none of this daemon's own is under way then.
 */
async function removeTemporaryLeftovers(folder: string): Promise<void> {
  const prefix = `.${METRICS_FILE}.`;
  for (const name of await readdir(folder)) {
    if (name.startsWith(prefix) && name.endsWith('.tmp')) await rm(path.join(folder, name), { force: true });
  }
}

function figuresOf(job: Job): MetricsSnapshot['lastBackup'] {
  return {
    roles: job.Roles.map((role) => ({ name: role.RoleName, succeeded: role.Status === 'Succeeded' })),
    durationSeconds: durationOf(job) ?? 0,
    storedBytes: job.StoredBytes ?? 0,
  };
}

function unixSeconds(isoTime: string): number {
  return Date.parse(isoTime) / 1000;
}
