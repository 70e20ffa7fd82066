/** The engine: every service of one deployment, composed over its state folder. */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { AzsError } from '../protocol/errors.js';
import type { Backup, BackupTestResult, RestorePlan } from '../protocol/objects.js';
import { createChannels } from '../notify/index.js';
import { CapacityLog } from '../state/capacityLog.js';
import { JobHistory } from '../state/jobHistory.js';
import { ManifestLedger } from '../state/manifestLedger.js';
import { NotificationTargets } from '../state/notificationTargets.js';
import type { SavedConfig, StateDir } from '../state/stateDir.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { AlertService } from './alerts.js';
import { failureAlertOf } from './alertRules.js';
import { BackupService } from './backupJob.js';
import { BackupCatalog, backupOf, matchesName } from './catalog.js';
import { ConfigurationService, type ConfigChange, type ConfigResult } from './configuration.js';
import { EngineEvents } from './events.js';
import { ExclusiveJobs, RepositoryChanges } from './exclusive.js';
import { Housekeeping } from './housekeeping.js';
import { repackCurrentEpoch } from './repacking.js';
import { jobHandle, jobRecord, type JobHandle, type JobRunOptions } from './job.js';
import { MetricsService } from './metrics.js';
import { NotificationService } from './notifications.js';
import { displayPath, findOrphans } from './prune.js';
import { isRepositoryPath } from '../repository/layout.js';
import {
  RecoveryService,
  type DecryptionRequest,
  type RestoreRequest,
  type RestoreResult,
  type RoleNames,
} from './recovery.js';
import { ReportService } from './report.js';
import { RoleService } from './roles.js';
import { Scheduler } from './scheduler.js';
import { Stores, type OpenStore } from './stores.js';

/** How long a stopping daemon waits for a cancelled job to record its end. */
const STOP_GRACE_MS = 10_000;

/** What the composition root gives the engine besides its state folder, clock and log. */
export interface EngineOptions {
  /** Opens the store of a configured path (the daemon: storage/openStore.ts). */
  openStore: OpenStore;
}

export class Engine {
  readonly configuration: ConfigurationService;
  readonly roles: RoleService;
  readonly history: JobHistory;
  readonly catalog: BackupCatalog;
  readonly ledger: ManifestLedger;
  readonly jobs = new ExclusiveJobs();
  private readonly repositoryChanges = new RepositoryChanges();
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
  readonly stores: Stores;

  constructor(
    readonly state: StateDir,
    readonly clock: Clock,
    readonly log: Logger,
    options: EngineOptions,
  ) {
    const stores = (this.stores = new Stores(state, options.openStore));
    this.events = new EngineEvents(
      { DeploymentId: state.identity.DeploymentId, Location: state.identity.Location },
      log,
    );
    const now = () => clock.now().toISOString();
    this.configuration = new ConfigurationService(state, stores, clock, (config) =>
      this.scheduleTimes(config),
    );
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
      stores,
      repositoryChanges: this.repositoryChanges,
    });
    this.backups = new BackupService({
      state,
      clock,
      log,
      roles: this.roles,
      history: this.history,
      jobs: this.jobs,
      stores,
      ledger: this.ledger,
      onFinished: (job, error, store) => this.housekeeping.afterBackup(job, error, store),
    });
    this.recovery = new RecoveryService({
      state,
      clock,
      log,
      roles: this.roles,
      catalog: this.catalog,
      history: this.history,
      jobs: this.jobs,
      stores,
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
    this.recovery.removeLeftByStoppedRestores(await this.roles.list());
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
    await this.recovery.removalsFinished();
    await this.notifications.stop();
  }

  async setConfiguration(change: ConfigChange): Promise<ConfigResult> {
    const previousMetricsPath = (await this.state.readConfig()).metricsPath;
    const { config, warnings } = await this.configuration.set(change);
    await this.scheduler.onConfigChanged(config);
    // One connection for what follows (the set opened the store only to check new settings).
    const location = await this.stores.withConfiguredIfOpens(async (store) => {
      await this.housekeeping.evaluateConditions(store);
      await this.metrics.configurationChanged(previousMetricsPath);
      return (await this.configuration.get(store)).location;
    });
    return { location, warnings };
  }

  /** Runs the scheduler's due slot and the condition checks now (after the clock moved). */
  async catchUp(): Promise<void> {
    await this.scheduler.tick();
    await this.housekeeping.evaluateConditions();
  }

  /** Backup-AzsBackupLocation: a manual backup. */
  startBackup(options: JobRunOptions = {}): JobHandle<Backup, Backup> {
    return this.backups.start({ isAutomatic: false, ...options });
  }

  /** Test-AzsBackup: each role of a backup verified, decrypted too when the .pfx is given. */
  testBackup(name: string, decryption: DecryptionRequest | null): Promise<BackupTestResult[]> {
    return this.recovery.test(name, decryption);
  }

  /** Restore-AzsBackup -WhatIf: what a restore of the roles named would do. */
  restorePlan(name: string, roleNames: RoleNames): Promise<RestorePlan> {
    return this.recovery.plan(name, roleNames);
  }

  /** Restore-AzsBackup: verifies, then restores the roles that verify. */
  restore(request: RestoreRequest, options: JobRunOptions = {}): JobHandle<string, RestoreResult> {
    return this.recovery.start(request, options);
  }

  /** Get-AzsBackup: the store's backups (and the running one), newest first, filtered and paged. */
  async listBackups(options: { Name?: string; Top?: number; Skip?: number }): Promise<Backup[]> {
    const stored = await this.stores.withConfigured((store) => this.catalog.list(store));
    const running = this.backups.runningAsBackup();
    // A backup is still "running" while what follows it (retention, prune) runs, yet already stored.
    const stillRunning = running && !stored.some((backup) => backup.manifest.BackupId === running.BackupId);
    const all = [...(stillRunning ? [running] : []), ...stored.map(backupOf)];
    const named = options.Name ? all.filter((backup) => matchesName(backup, options.Name!)) : all;
    const skipped = named.slice(options.Skip ?? 0);
    return options.Top === undefined ? skipped : skipped.slice(0, options.Top);
  }

  /**
   * Invoke-AzsPruneBackupLocationExternalStore: orphans under MASBackup, removed unless a dry run;
   * accepted once they are found.
   */
  prune(dryRun: boolean): JobHandle<void, { PathsToDelete: string[] }> {
    let found: () => void = () => undefined;
    const accepted = new Promise<void>((resolve) => (found = resolve));
    const done = this.removeOrphans(dryRun, found);
    return jobHandle(Promise.race([accepted, done.then(() => undefined)]), done);
  }

  private async removeOrphans(dryRun: boolean, found: () => void): Promise<{ PathsToDelete: string[] }> {
    const started = this.clock.now();
    // A backup that starts meanwhile may take chunks from a repository pack found orphaned or
    // repacked: those stay (the next prune removes what is still unused). One that started and
    // ended meanwhile counts too: its manifest may list such a pack.
    const backupsBefore = this.jobs.backupsStarted;
    const backupCame = () =>
      this.jobs.current?.kind === 'Backup' || this.jobs.backupsStarted !== backupsBefore;
    const orphans = await this.stores.withConfigured((store) =>
      this.repositoryChanges.run(async () => {
        const orphaned = await findOrphans(store, this.catalog, this.jobs.current?.backupId ?? null);
        found();
        if (!dryRun) {
          for (const orphan of orphaned) {
            if (backupCame() && isRepositoryPath(orphan)) continue;
            await store.remove(orphan);
          }
        }
        const repacked = backupCame()
          ? []
          : await repackCurrentEpoch(this.state, store, this.catalog, {
              dryRun,
              mayRemove: () => !backupCame(),
            });
        return [...orphaned, ...repacked].map((orphan) => displayPath(store, orphan));
      }),
    );
    this.log.info(dryRun ? 'prune dry run' : 'pruned', { paths: orphans });
    if (!dryRun) {
      await this.history.save(
        jobRecord({
          kind: 'Prune',
          jobId: randomUUID(),
          backupId: null,
          isAutomatic: false,
          startTime: started,
          roles: [],
          ended: { at: this.clock.now(), outcome: 'Succeeded', errorMessage: null },
        }),
      );
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
      const { kind, remediation } = failureAlertOf(error);
      await this.alerts.raise(kind, error.message, { remediation });
    }
    await this.housekeeping.evaluateConditions();
  }
}
