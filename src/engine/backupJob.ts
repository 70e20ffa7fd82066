/**
 * The backup job's lifecycle: the request checked, the job claimed and recorded Running, the work
 * run in the store (backupRun.ts), and the end recorded and announced. A role that fails is recorded
 * (PartialSucceeded); a store that fails ends the job and leaves earlier backups untouched.
 */
import { randomUUID } from 'node:crypto';
import { AzsError } from '../protocol/errors.js';
import type { Backup, BackupRecord, Role, RoleMeasure } from '../protocol/objects.js';
import type { JobHistory, JobInput, JobRecord } from '../state/jobHistory.js';
import type { ManifestLedger } from '../state/manifestLedger.js';
import { RoleTimings } from '../state/roleTimings.js';
import type { SavedCertificate, StateDir } from '../state/stateDir.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { runBackup, sum } from './backupRun.js';
import { asResource } from './catalog.js';
import type { ExclusiveJobs } from './exclusive.js';
import { jobHandle, jobRecord, type JobHandle, type JobRunOptions } from './job.js';
import type { RoleService } from './roles.js';
import type { BackupStore } from '../storage/store.js';
import type { Stores } from './stores.js';

export const STAMP_VERSION = '0.1.0';
export const BACKUP_DATA_VERSION = '1.0.0';

export interface BackupRequest extends JobRunOptions {
  isAutomatic: boolean;
}

export interface BackupServiceDeps {
  state: StateDir;
  clock: Clock;
  log: Logger;
  roles: RoleService;
  history: JobHistory;
  jobs: ExclusiveJobs;
  stores: Stores;
  /** Where each manifest written is recorded, before the job reports success. */
  ledger: ManifestLedger;
  /**
   * Called after every backup that ends, successful or not (alerts, retention, schedule), with the
   * job's store while it is still open (null when it could not be opened), so that what follows a
   * backup needs no connection of its own.
   */
  onFinished?: (job: JobRecord, error: AzsError | null, store: BackupStore | null) => Promise<void>;
}

export class BackupService {
  private running: BackupRecord | null = null;
  private readonly timings: RoleTimings;

  constructor(private readonly deps: BackupServiceDeps) {
    this.timings = new RoleTimings(deps.state);
  }

  /**
   * Starts a backup: accepted with the Running backup once it is under way, done with the finished
   * one; done rejects with an AzsError when the job fails as a whole.
   */
  start(request: BackupRequest): JobHandle<Backup, Backup> {
    const begun = this.begin(request);
    return jobHandle(
      begun.then(({ backup }) => backup),
      begun.then(({ done }) => done),
    );
  }

  private async begin(request: BackupRequest): Promise<{ backup: Backup; done: Promise<Backup> }> {
    const { state, clock, jobs, stores } = this.deps;
    const config = await state.readConfig();
    const settings = await stores.configured(config);
    const certificate = this.usableCertificate(config.certificate);
    const roles = await this.deps.roles.list();
    if (!roles.length)
      throw new AzsError(
        'NotConfigured',
        'No infrastructure roles are registered. Register them with Register-AzsInfrastructureRole first.',
      );
    const backupId = randomUUID();
    const claim = jobs.claim('Backup', backupId);
    const created = clock.now();
    const backup = this.initialBackup(backupId, created, certificate.thumbprint, request.isAutomatic, roles);
    this.running = backup;
    const job = jobRecord({
      kind: 'Backup',
      jobId: backupId,
      backupId,
      isAutomatic: request.isAutomatic,
      startTime: created,
      roles: backup.RoleStatus,
    });
    const signal = request.signal
      ? AbortSignal.any([request.signal, claim.abort.signal])
      : claim.abort.signal;
    const runDeps = { ...this.deps, timings: this.timings };
    const failed = (error: unknown, store: BackupStore | null) => {
      const failure = asAzsError(error);
      return this.finish(job, failedBackup(backup, failure), failure, [], store);
    };
    let storeOpened = false;
    const done = this.deps.history
      .save(job)
      .then(() =>
        stores.with(settings, (store) => {
          storeOpened = true;
          return runBackup(
            runDeps,
            { store, path: settings.path },
            backup,
            roles,
            certificate,
            signal,
            request.progress,
          ).then(
            ({ record, measures }) => this.finish(job, record, null, measures, store),
            (error: unknown) => failed(error, store),
          );
        }),
      )
      .catch((error: unknown) => {
        // Only a store that could not be opened ends here unrecorded; finish rethrows a job's own failure.
        if (storeOpened) throw error;
        return failed(error, null);
      })
      .finally(() => {
        this.running = null;
        jobs.release(claim);
      });
    done.catch(() => undefined);
    return { backup: asResource(backup), done };
  }

  private usableCertificate(certificate: SavedCertificate | null): SavedCertificate {
    if (!certificate) {
      throw new AzsError(
        'NotConfigured',
        'No encryption certificate is configured. Run Set-AzsBackupConfiguration -EncryptionCertPath <.cer> first.',
        {
          parameter: 'EncryptionCertPath',
        },
      );
    }
    if (Date.parse(certificate.notAfter) <= this.deps.clock.now().getTime()) {
      throw new AzsError(
        'CertificateExpired',
        `The encryption certificate ${certificate.thumbprint} expired on ${certificate.notAfter}; backups are refused until a new one is set. Create one with New-AzsBackupEncryptionCertificate and set it with Set-AzsBackupConfiguration -EncryptionCertPath.`,
        { target: certificate.thumbprint },
      );
    }
    return certificate;
  }

  private initialBackup(
    backupId: string,
    created: Date,
    thumbprint: string,
    isAutomatic: boolean,
    roles: Role[],
  ): BackupRecord {
    const { identity } = this.deps.state;
    return {
      BackupId: backupId,
      Name: `${identity.Location}/${backupId}`,
      Status: 'Running',
      RoleStatus: roles.map((role) => ({ RoleName: role.Name, Status: 'Queued', ErrorMessage: null })),
      CreatedDateTime: created.toISOString(),
      TimeTakenToCreate: null,
      BackupDataVersion: BACKUP_DATA_VERSION,
      DeploymentId: identity.DeploymentId,
      StampVersion: STAMP_VERSION,
      IsCloudRecoveryReady: false,
      EncryptionCertThumbprint: thumbprint,
      BackupSizeInKb: 0,
      CompressedBackupSizeInKb: 0,
      IsAutomaticBackup: isAutomatic,
      CompletelyUploaded: false,
    };
  }

  private async finish(
    job: JobInput,
    backup: BackupRecord,
    error: AzsError | null,
    measures: RoleMeasure[],
    store: BackupStore | null,
  ): Promise<Backup> {
    const finished: JobRecord = {
      ...job,
      EndTime: this.deps.clock.now().toISOString(),
      Outcome: error
        ? error.reason === 'JobCancelled'
          ? 'Cancelled'
          : 'Failed'
        : (backup.Status as JobRecord['Outcome']),
      ErrorMessage: error?.message ?? null,
      Roles: backup.RoleStatus,
      SourceBytes: measures.length ? sum(measures.map((measure) => measure.SourceBytes)) : null,
      StoredBytes: measures.length ? sum(measures.map((measure) => measure.StoredBytes)) : null,
      RoleMeasures: measures,
    };
    await this.deps.history.save(finished);
    // A failed role is a failure for the log's reader too, not a success to skim over.
    const level = finished.Outcome === 'Succeeded' ? 'info' : 'warn';
    this.deps.log[level]('backup finished', {
      backupId: job.BackupId,
      outcome: finished.Outcome,
      error: finished.ErrorMessage,
    });
    await this.deps
      .onFinished?.(finished, error, store)
      .catch((hookError: unknown) =>
        this.deps.log.error('post-backup step failed', { backupId: job.BackupId, error: String(hookError) }),
      );
    if (error) throw error;
    return asResource(backup);
  }

  /** A listing entry for the running backup, if any, for Get-AzsBackup. */
  runningAsBackup(): Backup | null {
    return this.running ? asResource({ ...this.running, RoleStatus: [...this.running.RoleStatus] }) : null;
  }
}

/**
 * The backup as a job that failed as a whole records it: a role still Running (the store failed
 * under it, or under a role beside it) failed with the job.
 */
function failedBackup(backup: BackupRecord, error: AzsError): BackupRecord {
  return {
    ...backup,
    Status: 'Failed',
    RoleStatus: backup.RoleStatus.map((role) =>
      role.Status === 'Running' ? { ...role, Status: 'Failed', ErrorMessage: error.message } : role,
    ),
  };
}

function asAzsError(error: unknown): AzsError {
  if (error instanceof AzsError) return error;
  return new AzsError('BackupFailed', `The backup failed: ${(error as Error)?.message ?? error}`, {
    cause: error,
  });
}
