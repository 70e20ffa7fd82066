/**
 * What follows a backup and a configuration change: retention on the store, failed uploads removed,
 * after a scheduled backup a slice of the repository's packs verified (packVerification.ts), failure
 * alerts opened or closed, and the condition alerts (certificate, scheduler, free space) brought up
 * to date.
 */
import { AzsError } from '../protocol/errors.js';
import { INDEX_SUFFIX } from '../repository/layout.js';
import type { CapacityLog } from '../state/capacityLog.js';
import type { JobHistory, JobRecord } from '../state/jobHistory.js';
import type { ManifestLedger } from '../state/manifestLedger.js';
import type { SavedConfig, StateDir } from '../state/stateDir.js';
import type { BackupStore } from '../storage/store.js';
import { DAY_MS, type Clock } from '../util/clock.js';
import { formatCapacity } from '../util/format.js';
import type { Logger } from '../util/log.js';
import { failureAlertOf, roleRemediation } from './alertRules.js';
import type { AlertService } from './alerts.js';
import type { BackupCatalog } from './catalog.js';
import { CERT_EXPIRY_WARNING_DAYS } from './configuration.js';
import { emptiedRolesCondition } from './emptiedRoles.js';
import type { RepositoryChanges } from './exclusive.js';
import { BACKUP_ROOT } from './layout.js';
import { displayPath, findFailedUploads, findRepositoryOrphans } from './prune.js';
import { applyRetention } from './retention.js';
import { PackVerifier } from './packVerification.js';
import { repackCurrentEpoch } from './repacking.js';
import { withOperatorAdvice } from './storeAdvice.js';
import type { Stores } from './stores.js';
import type { RoleService } from './roles.js';

/** Errors that are the caller's doing, not a fault of the backup infrastructure: no alert. */
const NOT_ALERTED = new Set(['JobCancelled', 'BackupAlreadyRunning', 'NotConfigured', 'CertificateExpired']);

export interface HousekeepingDeps {
  state: StateDir;
  clock: Clock;
  log: Logger;
  alerts: AlertService;
  catalog: BackupCatalog;
  ledger: ManifestLedger;
  history: JobHistory;
  roles: RoleService;
  capacity: CapacityLog;
  stores: Stores;
  repositoryChanges: RepositoryChanges;
}

export class Housekeeping {
  private readonly verifier: PackVerifier;

  constructor(private readonly deps: HousekeepingDeps) {
    this.verifier = new PackVerifier(deps);
  }

  /** After a backup, over the backup's own store while it is open (null: one is opened). */
  async afterBackup(job: JobRecord, error: AzsError | null, store: BackupStore | null): Promise<void> {
    if (error) {
      if (!NOT_ALERTED.has(error.reason)) {
        const { kind, remediation } = failureAlertOf(error);
        await this.deps.alerts.raise(kind, error.message, { backupId: job.BackupId, remediation });
      }
    } else {
      // A backup with a failed role is a failure for alerting: every failure alert stays open.
      if (job.Outcome === 'Succeeded') await this.deps.alerts.closeFailures();
      else await this.raiseRolesFailed(job);
      await this.deps.stores.withOpenOrConfigured(store, async (store) => {
        await this.retentionFollowed(store);
        await this.removeFailedUploads(store, job.BackupId).catch((error: unknown) =>
          this.deps.log.warn('failed uploads not removed', {
            error: String((error as Error).message ?? error),
          }),
        );
        // Rolling verification follows the schedule: on-demand backups do not move it.
        if (job.IsAutomatic)
          await this.verifier.verify(store).catch((error: unknown) =>
            this.deps.log.warn('pack verification failed', {
              error: String((error as Error).message ?? error),
            }),
          );
      });
    }
    await this.evaluateConditions(store);
  }

  /** The RolesFailed alert for a backup that stored only some roles: each failed one with its fix. */
  private async raiseRolesFailed(job: JobRecord): Promise<void> {
    const failed = job.Roles.filter((role) => role.Status !== 'Succeeded');
    const registered = await this.deps.roles.list();
    const remediations = failed.flatMap((status) => {
      const role = registered.find((candidate) => candidate.Name === status.RoleName);
      return role ? [roleRemediation(role)] : [];
    });
    await this.deps.alerts.raise(
      'RolesFailed',
      `Backup ${job.BackupId} stored ${job.Roles.length - failed.length} of ${job.Roles.length} roles; failed: ${failed
        .map((role) => `${role.RoleName} (${role.ErrorMessage ?? role.Status})`)
        .join('; ')}.`,
      { backupId: job.BackupId, details: remediations },
    );
  }

  /**
   * Removes the folders that uploads of this deployment's failed, cancelled or cut-short backups
   * left on the store (a store that failed under a job keeps them). Only after a backup that wrote
   * its manifest, so the store is known to work; the backup just written is the one job running.
   */
  private async removeFailedUploads(store: BackupStore, finishedBackupId: string | null): Promise<void> {
    const failedIds = new Set(
      (await this.deps.history.list())
        .filter((job) => job.Kind === 'Backup' && (job.Outcome === 'Failed' || job.Outcome === 'Cancelled'))
        .flatMap((job) => (job.BackupId ? [job.BackupId] : [])),
    );
    if (!failedIds.size) return;
    const orphans = await findFailedUploads(store, this.deps.catalog, finishedBackupId, failedIds);
    for (const orphan of orphans) {
      await store.remove(orphan);
      this.deps.log.info('failed upload removed', { path: displayPath(store, orphan) });
    }
  }

  /**
   * Retention after a backup, with the RetentionBlocked condition following it: a delete the store
   * refuses (no delete right, a container's immutability policy longer than the retention period)
   * leaves the old backups taking the store's room, which the operator must hear of; the backup
   * itself stands, and what follows it still runs.
   */
  private async retentionFollowed(store: BackupStore): Promise<void> {
    try {
      await this.applyRetention(store);
      await this.deps.alerts.setCondition('RetentionBlocked', null);
    } catch (error) {
      const advised = withOperatorAdvice(error);
      const reason = advised instanceof Error ? advised.message : String(advised);
      this.deps.log.warn('retention could not delete a backup', { error: reason });
      await this.deps.alerts.setCondition(
        'RetentionBlocked',
        `Retention could not delete a backup it no longer keeps: ${reason}`,
      );
    }
  }

  /** Deletes the backups retention no longer keeps; returns the folders removed. */
  async applyRetention(store: BackupStore): Promise<string[]> {
    const config = await this.deps.state.readConfig();
    // Only a backup this deployment wrote counts as the newest one ready for cloud recovery: one
    // planted on the store with a later date must not make retention delete the real newest one.
    const backups = (await this.deps.catalog.list(store)).map((stored) => ({
      ...stored.manifest,
      IsCloudRecoveryReady: stored.manifest.IsCloudRecoveryReady && stored.isKnown,
      folder: stored.folder,
    }));
    const decision = applyRetention(backups, config.backupRetentionPeriodInDays, this.deps.clock.now());
    const removed: string[] = [];
    for (const { backup, reason } of decision.remove) {
      await store.remove(backup.folder);
      this.deps.catalog.forget(backup.folder);
      await this.deps.ledger.forget([backup.BackupId]);
      await removeIfEmpty(store, backup.folder.slice(0, backup.folder.lastIndexOf('/')));
      this.deps.log.info('backup deleted by retention', { backupId: backup.BackupId, reason });
      removed.push(backup.folder);
    }
    // Format 4: the packs only the deleted backups used go too (prune by reachability), and those
    // the deletes left mostly dead are repacked.
    if (removed.length) {
      await this.deps.repositoryChanges.run(async () => {
        for (const orphan of await findRepositoryOrphans(store, this.deps.catalog)) {
          await store.remove(orphan);
          this.deps.log.info('repository file removed after retention', { path: displayPath(store, orphan) });
        }
        await this.repackAfterRetention(store);
      });
    }
    return removed;
  }

  /**
   * Repacks what retention left mostly dead. The backup this follows is complete and no other can
   * start before housekeeping ends, so old packs may go. A failure costs room, not a backup: the
   * next retention or prune tries again.
   */
  private async repackAfterRetention(store: BackupStore): Promise<void> {
    try {
      const { state, catalog } = this.deps;
      const repacked = await repackCurrentEpoch(state, store, catalog, {
        dryRun: false,
        mayRemove: () => true,
      });
      for (const path of repacked) {
        const what = path.endsWith(INDEX_SUFFIX) ? 'stale index file removed' : 'pack repacked';
        this.deps.log.info(`${what} after retention`, { path: displayPath(store, path) });
      }
    } catch (error) {
      this.deps.log.warn('repack failed', { error: String((error as Error).message ?? error) });
    }
  }

  /** Brings every condition alert up to date with the configuration and the store (opened when not given). */
  async evaluateConditions(store: BackupStore | null = null): Promise<void> {
    const config = await this.deps.state.readConfig();
    const { alerts } = this.deps;
    const [expiring, expired] = this.certificateConditions(config);
    await alerts.setCondition('CertificateExpiring', expiring);
    await alerts.setCondition('CertificateExpired', expired);
    await alerts.setCondition(
      'SchedulerDisabled',
      config.path && !config.isBackupSchedulerEnabled
        ? 'Backup is configured, but the scheduler is off: no automatic backups are taken.'
        : null,
    );
    await this.evaluateStoreConditions(config, store);
  }

  /** The conditions read from the store (free space, emptied roles), over one connection to it. */
  private async evaluateStoreConditions(config: SavedConfig, open: BackupStore | null): Promise<void> {
    const { alerts, log } = this.deps;
    if (!config.path) return alerts.setCondition('StoreAlmostFull', null);
    await this.deps.stores
      .withOpenOrConfigured(open, async (store) => {
        await alerts.setCondition('StoreAlmostFull', await this.almostFull(store));
        await this.evaluateEmptiedRoles(config, store);
      })
      .catch(async (error: unknown) => {
        // The store's settings cannot be read (the password does not unseal): as a failed check.
        log.warn('free-space check failed', { error: String((error as Error).message ?? error) });
        await alerts.setCondition('StoreAlmostFull', null);
      });
  }

  /** Opens or closes the RoleStoredNothing alert from the backups this deployment wrote. */
  private async evaluateEmptiedRoles(config: SavedConfig, store: BackupStore): Promise<void> {
    try {
      const known = (await this.deps.catalog.list(store)).filter((backup) => backup.isKnown);
      const manifests = known.map((backup) => backup.manifest);
      const description = emptiedRolesCondition(manifests, config.backupRetentionPeriodInDays);
      if (description)
        await this.deps.alerts.raise('RoleStoredNothing', description, { backupId: manifests[0]!.BackupId });
      else await this.deps.alerts.close(['RoleStoredNothing']);
    } catch (error) {
      // The store cannot be read now: the alert stays as it is until it can.
      this.deps.log.warn('empty-role check failed', { error: String((error as Error).message ?? error) });
    }
  }

  private certificateConditions(config: SavedConfig): [string | null, string | null] {
    const certificate = config.certificate;
    if (!certificate) return [null, null];
    const remainingDays = (Date.parse(certificate.notAfter) - this.deps.clock.now().getTime()) / DAY_MS;
    if (remainingDays <= 0)
      return [
        null,
        `The encryption certificate ${certificate.thumbprint} expired on ${certificate.notAfter}; backups are refused.`,
      ];
    if (remainingDays <= CERT_EXPIRY_WARNING_DAYS) {
      return [
        `The encryption certificate ${certificate.thumbprint} expires on ${certificate.notAfter}, in ${Math.ceil(remainingDays)} days.`,
        null,
      ];
    }
    return [null, null];
  }

  /**
   * Almost full: less room than two more backups of the newest one's size need. The free space
   * measured is kept as a sample (capacity.json) for the metrics and the report. A store that cannot
   * tell its room (a blob container) is never found almost full.
   */
  private async almostFull(store: BackupStore): Promise<string | null> {
    try {
      const capacity = await store.capacity();
      if (!capacity) return null;
      const { availableBytes, totalBytes } = capacity;
      await this.deps.capacity.record({
        Time: this.deps.clock.now().toISOString(),
        AvailableBytes: availableBytes,
        TotalBytes: totalBytes,
      });
      const newest = (await this.deps.catalog.list(store))[0];
      if (!newest) return null;
      const needed = 2 * newest.manifest.CompressedBackupSizeInKb * 1024;
      if (availableBytes >= needed) return null;
      return `The external store has ${formatCapacity(availableBytes)} free, less than the ${formatCapacity(needed)} two more backups of the last size need.`;
    } catch (error) {
      this.deps.log.warn('free-space check failed', { error: String((error as Error).message ?? error) });
      return null;
    }
  }
}

export async function removeIfEmpty(store: BackupStore, folder: string): Promise<void> {
  if (folder === BACKUP_ROOT || !folder.startsWith(`${BACKUP_ROOT}/`)) return;
  const left = await store.list(folder).catch(() => null);
  if (left && left.length === 0) await store.remove(folder).catch(() => undefined);
}
