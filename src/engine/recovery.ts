/**
 * Cloud recovery and validation. Restore-AzsBackup checks the manifest's MAC, then reads each role
 * once (recoveryPass.ts): every stored byte against the manifest, every chunk decrypted and
 * authenticated, every file hash, while its provider writes the data beside the role; the role is
 * swapped in only once all of it verified. A role that fails verification, or whose restore fails,
 * is not restored; the others are (the outcome that keeps the most data), and every failure is
 * reported at the end. Test-AzsBackup runs the same pass and writes nothing.
 *
 * A backup this deployment did not write (its ledger has no record of the manifest) may be anyone's:
 * the certificate is public. Such a backup restores a role only through this deployment's own
 * registration of it (same name, same provider); any role whose registration would come from the
 * backup — its path, its scripts — needs the operator's AcceptBackupRoles.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { holdsData } from '../archive/manifest.js';
import type { EpochKeys } from '../crypto/epochKeys.js';
import { PACK_TARGET_BYTES } from '../repository/packWriter.js';
import { AzsError, isAzsError } from '../protocol/errors.js';
import type { BackupTestResult, RestorePlan, RestoreRoleFailure } from '../protocol/objects.js';
import { providerFor, removeRetiredData, type RoleRegistration } from '../roles/index.js';
import type { RestoreResult as RoleRestoreResult } from '../roles/provider.js';
import type { JobHistory, JobInput } from '../state/jobHistory.js';
import type { StateDir } from '../state/stateDir.js';
import type { BackupStore } from '../storage/store.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { BackupCatalog } from './catalog.js';
import type { ExclusiveJobs } from './exclusive.js';
import { currentEpochKeys } from './repacking.js';
import { ProgressThrottle } from './backupProgress.js';
import { jobHandle, jobRecord, type JobHandle, type JobRunOptions, type ProgressListener } from './job.js';
import {
  describePlan,
  planRoles,
  refuseUnaccepted,
  selectRoles,
  type ManifestRole,
  type RoleNames,
  type RolePlan,
} from './recoveryPlan.js';
import {
  checkStoredRole,
  readAndDiscard,
  readRole,
  RoleDamaged,
  type BackupReader,
  type BytesListener,
} from './recoveryPass.js';
import { authenticatedKey, manifestFailure, readerOf, type DecryptionRequest } from './recoveryVerify.js';
import {
  amendRestore,
  cancelled,
  nothingRestored,
  recordRestore,
  roleFailure,
  verificationFailure,
  type RestoreOutcome,
} from './restoreOutcome.js';
import type { RoleService } from './roles.js';
import type { Stores } from './stores.js';

export type { DecryptionRequest } from './recoveryVerify.js';
export type { RoleNames } from './recoveryPlan.js';

export interface RestoreRequest extends DecryptionRequest {
  Name: string;
  RoleName?: RoleNames;
  AcceptBackupRoles?: boolean;
}

export interface RestoreResult {
  BackupId: string;
  RestoredRoles: string[];
  FailedRoles: RestoreRoleFailure[];
}

export interface RecoveryDeps {
  state: StateDir;
  clock: Clock;
  log: Logger;
  roles: RoleService;
  catalog: BackupCatalog;
  history: JobHistory;
  jobs: ExclusiveJobs;
  stores: Stores;
}

export class RecoveryService {
  /** Removals of previous data still running after their restores reported. */
  private readonly removing = new Set<Promise<void>>();

  constructor(private readonly deps: RecoveryDeps) {}

  /** Test-AzsBackup: every role verified (decrypted too, given the .pfx); writes nothing. */
  test(name: string, decryption: DecryptionRequest | null): Promise<BackupTestResult[]> {
    return this.deps.stores.withConfigured((store) => this.testIn(store, name, decryption));
  }

  private async testIn(
    store: BackupStore,
    name: string,
    decryption: DecryptionRequest | null,
  ): Promise<BackupTestResult[]> {
    const backup = await this.deps.catalog.get(store, name);
    const roles = backup.manifest.Roles.filter(holdsData);
    let key: Buffer | null = null;
    try {
      key = decryption ? await authenticatedKey(backup, decryption) : null;
    } catch (error) {
      if (!isAzsError(error, 'BackupCorrupt')) throw error;
      return roles.map((role) => manifestFailure(backup, role, error));
    }
    // Without the .pfx, the daemon's own key of its current epoch still authenticates repack records.
    const held = key ? null : await heldKeysOf(this.deps.state, backup.manifest.Encryption.Epoch);
    try {
      const results: BackupTestResult[] = [];
      for (const role of roles) results.push(await testRole(readerOf(store, backup), role, key, held));
      return results;
    } finally {
      key?.fill(0);
      held?.data.fill(0);
    }
  }

  /** backup.restorePlan: what a restore would do, for -WhatIf and the confirmation; changes nothing. */
  plan(name: string, roleNames: RoleNames): Promise<RestorePlan> {
    return this.deps.stores.withConfigured((store) => this.planIn(store, name, roleNames));
  }

  private async planIn(store: BackupStore, name: string, roleNames: RoleNames): Promise<RestorePlan> {
    const backup = await this.deps.catalog.get(store, name);
    const plans = planRoles(
      selectRoles(backup.manifest, roleNames),
      await this.deps.roles.list(),
      backup.isKnown,
    );
    return {
      BackupId: backup.manifest.BackupId,
      IsKnownToDeployment: backup.isKnown,
      Roles: plans.map(describePlan),
    };
  }

  /**
   * Restores every selected role that verifies: accepted with the backup's id once the request is
   * sound (backup, roles, .pfx, password); done with the roles restored and those not (each with its
   * error) when at least one was restored. Done rejects when none was, or when the restore as a
   * whole fails (the .pfx, acceptance, a cancel).
   */
  start(request: RestoreRequest, options: JobRunOptions = {}): JobHandle<string, RestoreResult> {
    let accept: (backupId: string) => void = () => undefined;
    const acceptance = new Promise<string>((resolve) => (accept = resolve));
    const done = this.deps.stores.withConfigured((store) =>
      this.restore(
        store,
        request,
        options.progress ?? (() => undefined),
        options.signal ?? new AbortController().signal,
        accept,
      ),
    );
    return jobHandle(Promise.race([acceptance, done.then((result) => result.BackupId)]), done);
  }

  private async restore(
    store: BackupStore,
    request: RestoreRequest,
    progress: ProgressListener,
    signal: AbortSignal,
    onAccepted: (backupId: string) => void,
  ): Promise<RestoreResult> {
    const backup = await this.deps.catalog.get(store, request.Name);
    const { manifest } = backup;
    const plans = planRoles(
      selectRoles(manifest, request.RoleName),
      await this.deps.roles.list(),
      backup.isKnown,
    );
    refuseUnaccepted(backup, plans, request.AcceptBackupRoles === true);
    const claim = this.deps.jobs.claim('Restore', manifest.BackupId);
    const job = jobRecord({
      kind: 'Restore',
      jobId: randomUUID(),
      backupId: manifest.BackupId,
      isAutomatic: false,
      startTime: this.deps.clock.now(),
      roles: plans.map((plan) => ({
        RoleName: plan.role.Registration.Name,
        Status: 'Queued',
        ErrorMessage: null,
      })),
    });
    const key = await authenticatedKey(backup, request).catch((error: unknown) => {
      this.deps.jobs.release(claim);
      throw error;
    });
    // The request is sound (backup, role, .pfx, password): a caller that does not wait may go now.
    onAccepted(manifest.BackupId);
    const combined = AbortSignal.any([signal, claim.abort.signal]);
    const outcome: RestoreOutcome = { restored: [], failures: new Map(), warnings: new Map() };
    // Previous data renamed aside: removed once every role is written and the job has reported
    // (deleting a large tree while another is written slows both, and the restore is done by then).
    const removals: PreviousData[] = [];
    try {
      await this.deps.history.save(job);
      // A registration from the backup is checked before any role's data is written, adopted once its role is restored.
      await this.deps.roles.checkAdoptable(
        plans.filter((plan) => plan.source === 'Backup').map((plan) => plan.registration),
      );
      const reader = readerOf(store, backup);
      for (const [index, plan] of plans.entries()) {
        combined.throwIfAborted();
        const name = plan.role.Registration.Name;
        const throttle = new ProgressThrottle();
        const reportBytes = (bytes: number) => {
          if (!throttle.due(bytes === 0)) return;
          progress({
            role: name,
            phase: 'restoring',
            bytes,
            totalBytes: storedBytesOf(plan.role),
            done: index,
            total: plans.length,
          });
        };
        reportBytes(0);
        try {
          const { warnings, removePreviousData } = await this.restoreRole(
            reader,
            plan,
            key,
            combined,
            reportBytes,
          );
          outcome.warnings.set(name, warnings);
          outcome.restored.push(name);
          if (removePreviousData) removals.push({ role: name, remove: removePreviousData, warnings });
        } catch (error) {
          if (combined.aborted) throw error;
          outcome.failures.set(
            name,
            error instanceof RoleDamaged
              ? verificationFailure(manifest.BackupId, name, error)
              : roleFailure(name, error, `Role ${name} was not restored: `),
          );
        }
      }
      if (!outcome.restored.length) throw nothingRestored(manifest.BackupId, [...outcome.failures.values()]);
      const record = await recordRestore(this.deps, job, outcome, null);
      this.removeAfterJob(record, outcome, removals);
      return {
        BackupId: manifest.BackupId,
        RestoredRoles: outcome.restored,
        FailedRoles: [...outcome.failures.values()],
      };
    } catch (caught) {
      const error = combined.aborted ? cancelled(manifest.BackupId) : caught;
      const record = await recordRestore(this.deps, job, outcome, error);
      this.removeAfterJob(record, outcome, removals);
      if (error instanceof AzsError && outcome.restored.length) {
        const notRestored = job.Roles.map((role) => role.RoleName).filter(
          (name) => !outcome.restored.includes(name),
        );
        throw new AzsError(
          error.reason,
          `${error.message} Restored: ${outcome.restored.join(', ')}; not restored: ${notRestored.join(', ')}.`,
          { parameter: error.parameter, target: error.target },
        );
      }
      throw error;
    } finally {
      key.fill(0);
      this.deps.jobs.release(claim);
    }
  }

  /**
   * Removes the restored roles' previous data after the job has reported, off the restore's
   * critical path (the data was swapped out, nothing reads it). What cannot be removed is logged and
   * added to the job's record as the role's warning; a removal a daemon stop cuts short is finished
   * by the next restore of the role (roles/swap.ts).
   */
  private removeAfterJob(record: JobInput, outcome: RestoreOutcome, removals: PreviousData[]): void {
    const removal = removePrevious(removals, this.deps.log)
      .then((leftovers) => (leftovers ? amendRestore(this.deps.history, record, outcome) : undefined))
      .catch((error: unknown) => {
        this.deps.log.warn('previous data left by a restore not recorded', { error: String(error) });
      });
    this.track(removal);
  }

  /**
   * Daemon start: removes the previous data a restore swapped out and a stopped daemon (kill -9,
   * power loss) had not removed yet, in the background as after a restore. What cannot be removed
   * is logged; the next restore of the role reports it again.
   */
  removeLeftByStoppedRestores(roles: readonly RoleRegistration[]): void {
    const removal = Promise.all(
      roles.map(async (role) => {
        const target = providerFor(role.Provider).restoreTarget?.(role);
        const left = target ? await removeRetiredData(target) : [];
        if (left.length)
          this.deps.log.warn('previous data left by a stopped restore not removed', {
            role: role.Name,
            warnings: left,
          });
      }),
    )
      .then(() => undefined)
      .catch((error: unknown) => {
        this.deps.log.warn('previous data left by a stopped restore not removed', { error: String(error) });
      });
    this.track(removal);
  }

  private track(removal: Promise<void>): void {
    this.removing.add(removal);
    void removal.finally(() => this.removing.delete(removal));
  }

  /** Resolves once the previous data of every finished restore is removed or reported. */
  async removalsFinished(): Promise<void> {
    await Promise.all(this.removing);
  }

  /** Reads the role once, its provider writing beside the role and swapping once all of it verified. */
  private async restoreRole(
    reader: BackupReader,
    { role, registration, source }: RolePlan,
    key: Buffer,
    signal: AbortSignal,
    onBytes: BytesListener,
  ): Promise<RoleRestoreResult> {
    const stagingDir = this.deps.state.stagingFor(`restore-${reader.manifest.BackupId}`, registration.Name);
    await rm(stagingDir, { recursive: true, force: true });
    await mkdir(stagingDir, { recursive: true, mode: 0o700 });
    try {
      const result = await readRole(
        reader,
        role,
        key,
        (entries) =>
          providerFor(registration.Provider).restore(registration, entries, { stagingDir, signal }),
        onBytes,
      );
      if (source === 'Backup') await this.deps.roles.adopt([registration]);
      return result;
    } finally {
      await rm(stagingDir, { recursive: true, force: true });
    }
  }
}

/**
 * The daemon's keys of `epoch` when it is the epoch it writes to (format 4), or null: a repack
 * record checked with them cannot have been planted.
 */
async function heldKeysOf(state: StateDir, epoch: string | undefined): Promise<EpochKeys | null> {
  if (!epoch) return null;
  const keys = await currentEpochKeys(state);
  if (keys?.epoch === epoch) return keys;
  keys?.data.fill(0);
  return null;
}

/**
 * Test-AzsBackup's verdict on one role: its stored file checked, and with the key every entry too;
 * `held`: the daemon's keys of the backup's epoch, which authenticate repack records.
 */
async function testRole(
  reader: BackupReader,
  role: ManifestRole,
  key: Buffer | null,
  held: EpochKeys | null,
): Promise<BackupTestResult> {
  const result = { BackupId: reader.manifest.BackupId, RoleName: role.Registration.Name };
  try {
    if (key) await readRole(reader, role, key, readAndDiscard);
    else await checkStoredRole(reader, role, held);
    return { ...result, Status: 'Succeeded', ErrorMessage: null, File: null };
  } catch (error) {
    if (!(error instanceof RoleDamaged)) throw error;
    return { ...result, Status: 'Failed', ErrorMessage: error.message, File: error.file };
  }
}

/** A restored role's previous data, and the role's warnings that its removal adds to. */
interface PreviousData {
  role: string;
  remove: () => Promise<string[]>;
  warnings: string[];
}

/** Removes every role's previous data; whether anything was left (each leftover logged, added to its role's warnings). */
async function removePrevious(removals: PreviousData[], log: Logger): Promise<boolean> {
  const leftovers = await Promise.all(
    removals.map(async ({ role, remove, warnings }) => {
      const left = await remove();
      if (left.length) log.warn('previous data of a restored role not removed', { role, warnings: left });
      warnings.push(...left);
      return left.length;
    }),
  );
  return leftovers.some(Boolean);
}

/** The bytes reading a role takes from the store: its file, or (format 4, an estimate) its packs. */
function storedBytesOf(role: ManifestRole): number {
  if (role.Content) return role.Content.Packs.length * PACK_TARGET_BYTES;
  return role.Files.reduce((sum, file) => sum + file.Size, 0);
}
