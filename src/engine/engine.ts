/** The engine: every service of one deployment, composed over its state folder. */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { AzsError } from '../protocol/errors.js';
import type { Backup } from '../protocol/objects.js';
import { createChannels } from '../notify/index.js';
import { CapacityLog } from '../state/capacityLog.js';
import { JobHistory } from '../state/jobHistory.js';
import { ManifestLedger } from '../state/manifestLedger.js';
import { NotificationTargets } from '../state/notificationTargets.js';
import type { SavedConfig, StateDir } from '../state/stateDir.js';
import type { BackupStore } from '../storage/store.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { AlertService } from './alerts.js';
import { failureKindOf } from './alertRules.js';
import { BackupService } from './backupJob.js';
import { BackupCatalog, backupOf, matchesName } from './catalog.js';
import {
  ConfigurationService,
  storeSettingsOf,
  withStore,
  type ConfigChange,
  type ConfigResult,
} from './configuration.js';
import { EngineEvents } from './events.js';
import { ExclusiveJobs } from './exclusive.js';
import { Housekeeping } from './housekeeping.js';
import { MetricsService } from './metrics.js';
import { NotificationService } from './notifications.js';
import { displayPath, findOrphans } from './prune.js';
import { RecoveryService } from './recovery.js';
import { ReportService } from './report.js';
import { RoleService } from './roles.js';
import { Scheduler } from './scheduler.js';

/** How long a stopping daemon waits for a cancelled job to record its end. */
const STOP_GRACE_MS = 10_000;

export class Engine {
  readonly configuration: ConfigurationService;
  readonly roles: RoleService;
  readonly history: JobHistory;
  readonly catalog: BackupCatalog;
  readonly ledger: ManifestLedger;
  readonly jobs = new ExclusiveJobs();
  readonly alerts: AlertService;
  readonly housekeeping: Housekeeping;
  readonly backups: BackupService;
  readonly scheduler: Scheduler;
  readonly recovery: RecoveryService;
  readonly events: EngineEvents;
  readonly capacity: CapacityLog;
  readonly notifications: NotificationService;
  readonly metrics: MetricsService;
  readonly reports: ReportService;

  constructor(
    readonly state: StateDir,
    readonly clock: Clock,
    readonly log: Logger,
  ) {
    this.events = new EngineEvents(
      { DeploymentId: state.identity.DeploymentId, Location: state.identity.Location },
      log,
    );
    const now = () => clock.now().toISOString();
    this.configuration = new ConfigurationService(state, clock, (config) => this.scheduleTimes(config));
    this.roles = new RoleService(state, clock);
    this.history = new JobHistory(state, (job) => this.events.jobSaved(job, now()), clock);
    this.ledger = new ManifestLedger(state);
    this.catalog = new BackupCatalog(log, this.ledger);
    this.capacity = new CapacityLog(state, () => void this.metrics.refresh());
    this.alerts = new AlertService(state, clock, log, (type, alert) =>
      this.events.alertChanged(type, alert, now()),
    );
    this.housekeeping = new Housekeeping({
      state,
      clock,
      log,
      alerts: this.alerts,
      catalog: this.catalog,
      ledger: this.ledger,
      history: this.history,
      roles: this.roles,
      capacity: this.capacity,
    });
    this.backups = new BackupService({
      state,
      clock,
      log,
      roles: this.roles,
      history: this.history,
      jobs: this.jobs,
      ledger: this.ledger,
      onFinished: (job, error) => this.housekeeping.afterBackup(job, error),
    });
    this.recovery = new RecoveryService({
      state,
      clock,
      log,
      roles: this.roles,
      catalog: this.catalog,
      history: this.history,
      jobs: this.jobs,
    });
    this.scheduler = new Scheduler({
      state,
      clock,
      log,
      history: this.history,
      jobs: this.jobs,
      backups: this.backups,
      onStartFailure: (error) => this.automaticStartFailed(error),
    });
    const targets = new NotificationTargets(state);
    const notificationDeps = { state, clock, log, alerts: this.alerts, events: this.events, targets };
    this.notifications = new NotificationService(notificationDeps, (outcomes) =>
      createChannels({
        folder: state.outboxDir,
        log,
        clock,
        outcomes,
        targets: () => targets.withSecrets(),
      }),
    );
    this.metrics = new MetricsService({
      state,
      log,
      events: this.events,
      history: this.history,
      alerts: this.alerts,
      capacity: this.capacity,
    });
    this.reports = new ReportService({
      state,
      clock,
      history: this.history,
      alerts: this.alerts,
      capacity: this.capacity,
      nextBackupTime: (config) => this.scheduler.nextBackupTime(config),
    });
  }

  /** Start-up: a crashed daemon's leftovers are cleared and its Running jobs recorded as Failed; the scheduler starts. */
  async start(): Promise<void> {
    // Staging folders belong to jobs; any found at start were left by a job a crash cut short.
    await rm(this.state.stagingRoot, { recursive: true, force: true });
    // Listening starts before the interrupted jobs are recorded, so their ends are announced too.
    this.notifications.start();
    this.metrics.start();
    for (const job of await this.history.failInterrupted(this.clock.now())) {
      this.log.warn('job interrupted by a daemon stop recorded as Failed', {
        jobId: job.JobId,
        kind: job.Kind,
      });
    }
    this.scheduler.start();
    await this.housekeeping
      .evaluateConditions()
      .catch((error: unknown) => this.log.warn('condition check failed', { error: String(error) }));
  }

  async stop(): Promise<void> {
    this.scheduler.stop();
    await this.jobs.abortAll(STOP_GRACE_MS);
    await this.notifications.stop();
  }

  async setConfiguration(change: ConfigChange): Promise<ConfigResult> {
    const previousMetricsPath = (await this.state.readConfig()).metricsPath;
    const { config, warnings } = await this.configuration.set(change);
    await this.scheduler.onConfigChanged(config);
    await this.housekeeping.evaluateConditions();
    await this.metrics.configurationChanged(previousMetricsPath);
    return { location: (await this.configuration.get()).location, warnings };
  }

  /** Runs `action` against the configured store. */
  async withConfiguredStore<T>(action: (store: BackupStore) => Promise<T>): Promise<T> {
    const settings = await storeSettingsOf(this.state, await this.state.readConfig());
    if (!settings) {
      throw new AzsError(
        'NotConfigured',
        'No backup store is configured. Run Set-AzsBackupConfiguration -Path <share or folder> first.',
        {
          parameter: 'Path',
        },
      );
    }
    return withStore(settings, action);
  }

  /** Get-AzsBackup: the store's backups (and the running one), newest first, filtered and paged. */
  async listBackups(options: { Name?: string; Top?: number; Skip?: number }): Promise<Backup[]> {
    const stored = await this.withConfiguredStore((store) => this.catalog.list(store));
    const running = this.backups.runningAsBackup();
    const all = [...(running ? [running] : []), ...stored.map(backupOf)];
    const named = options.Name ? all.filter((backup) => matchesName(backup, options.Name!)) : all;
    const skipped = named.slice(options.Skip ?? 0);
    return options.Top === undefined ? skipped : skipped.slice(0, options.Top);
  }

  /** Invoke-AzsPruneBackupLocationExternalStore: orphans under MASBackup, removed unless a dry run. */
  async prune(dryRun: boolean): Promise<{ PathsToDelete: string[] }> {
    const started = this.clock.now().toISOString();
    const orphans = await this.withConfiguredStore(async (store) => {
      const found = await findOrphans(store, this.catalog, this.jobs.current?.backupId ?? null);
      if (!dryRun) for (const orphan of found) await store.remove(orphan);
      return found.map((orphan) => displayPath(store, orphan));
    });
    this.log.info(dryRun ? 'prune dry run' : 'pruned', { paths: orphans });
    if (!dryRun) {
      await this.history.save({
        JobId: randomUUID(),
        Kind: 'Prune',
        BackupId: null,
        IsAutomatic: false,
        StartTime: started,
        EndTime: this.clock.now().toISOString(),
        Outcome: 'Succeeded',
        ErrorMessage: null,
        Roles: [],
      });
    }
    return { PathsToDelete: orphans };
  }

  private async scheduleTimes(config: SavedConfig) {
    return {
      NextBackupTime: await this.scheduler.nextBackupTime(config),
      LastBackupTime: await this.history.lastGoodBackupTime(),
    };
  }

  private async automaticStartFailed(error: unknown): Promise<void> {
    this.log.warn('scheduled backup could not start', { error: String((error as Error).message ?? error) });
    if (
      error instanceof AzsError &&
      error.reason !== 'BackupAlreadyRunning' &&
      error.reason !== 'CertificateExpired'
    ) {
      await this.alerts.raise(failureKindOf(error.reason), error.message);
    }
    await this.housekeeping.evaluateConditions();
  }
}
