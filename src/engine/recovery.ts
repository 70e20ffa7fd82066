/**
 * Cloud recovery and validation. Restore-AzsBackup checks the manifest's MAC, then verifies the
 * whole selection — every stored byte against the manifest, every chunk decrypted and authenticated,
 * every file hash — and only then replaces each verified role's data through its provider (write
 * beside, then swap). A role that fails verification, or whose restore fails, is not restored; the
 * others are (the outcome that keeps the most data), and every failure is reported at the end.
 * Test-AzsBackup runs the same verification and writes nothing.
 *
 * A backup this deployment did not write (its ledger has no record of the manifest) may be anyone's:
 * the certificate is public. Such a backup restores a role only through this deployment's own
 * registration of it (same name, same provider); any role whose registration would come from the
 * backup — its path, its scripts — needs the operator's AcceptBackupRoles.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { readRoleArchive, verifyRoleArchive, verifyStoredFile } from '../archive/index.js';
import {
  MANIFEST_FILE_NAME,
  checkManifestAuthentication,
  fileIdOf,
  type BackupManifest,
} from '../archive/manifest.js';
import { readCertificateFile } from '../crypto/certificates.js';
import { readPfx, unwrapKey } from '../crypto/keyWrap.js';
import { AzsError, isAzsError, type ErrorReason } from '../protocol/errors.js';
import type {
  BackupTestResult,
  RestorePlan,
  RestorePlanRole,
  RestoreRoleFailure,
  Role,
  RoleStatus,
} from '../protocol/objects.js';
import { providerFor } from '../roles/index.js';
import type { JobHistory, JobInput, JobRecord } from '../state/jobHistory.js';
import type { StateDir } from '../state/stateDir.js';
import type { BackupStore } from '../storage/store.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { ProgressSink } from './backupJob.js';
import type { BackupCatalog, StoredBackup } from './catalog.js';
import type { ExclusiveJobs } from './exclusive.js';
import type { RoleService } from './roles.js';

type ManifestRole = BackupManifest['Roles'][number];

export interface DecryptionRequest {
  DecryptionCertPath: string;
  DecryptionCertPassword: string;
}

/** One role name or several, as backup.restore and backup.restorePlan take them; none for every role. */
export type RoleNames = string | string[] | undefined;

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
}

/** The backup key, unwrapped with the operator's .pfx (used in memory, never stored). */
async function backupKey(manifest: BackupManifest, request: DecryptionRequest): Promise<Buffer> {
  const pfxBytes = await readCertificateFile(
    request.DecryptionCertPath,
    'DecryptionCertPath',
    'the .pfx of the certificate the backup was made with',
  );
  const certificate = readPfx(pfxBytes, request.DecryptionCertPassword, request.DecryptionCertPath);
  return unwrapKey(manifest.Encryption.WrappedKey, manifest.Encryption.CertificateThumbprint, certificate);
}

/** The backup key, once the manifest's MAC (format 3) has been checked with it; BackupCorrupt otherwise. */
async function authenticatedKey(backup: StoredBackup, request: DecryptionRequest): Promise<Buffer> {
  const key = await backupKey(backup.manifest, request);
  try {
    checkManifestAuthentication(backup.manifest, key, `${backup.folder}/${MANIFEST_FILE_NAME}`);
    return key;
  } catch (error) {
    key.fill(0);
    throw error;
  }
}

/** How one role of a backup would be restored. */
interface RolePlan {
  role: ManifestRole;
  /** The registration the restore uses: this deployment's, or the backup's (then adopted). */
  registration: Role;
  source: RestorePlanRole['Registration'];
  requiresAcceptance: boolean;
}

/**
 * Whose registration restores each role. A registered role of the same name is restored through its
 * current registration (for a backup not known here, only when the provider is the same too); any
 * other role's registration comes from the backup, which for an unknown backup needs acceptance.
 */
export function planRoles(selected: ManifestRole[], registered: Role[], isKnown: boolean): RolePlan[] {
  return selected.map((role) => {
    const recorded = role.Registration as Role;
    const current = registered.find(
      (candidate) => candidate.Name.toLowerCase() === recorded.Name.toLowerCase(),
    );
    if (current && (isKnown || current.Provider === recorded.Provider))
      return { role, registration: current, source: 'Registered', requiresAcceptance: false };
    return { role, registration: recorded, source: 'Backup', requiresAcceptance: !isKnown };
  });
}

function sha256OfScript(script: string | null): string | null {
  return script === null ? null : createHash('sha256').update(script, 'utf8').digest('hex');
}

function describePlan(plan: RolePlan): RestorePlanRole {
  const { registration } = plan;
  return {
    RoleName: registration.Name,
    Provider: registration.Provider,
    Path: registration.Path,
    BackupScriptSha256: sha256OfScript(registration.BackupScript),
    RestoreScriptSha256: sha256OfScript(registration.RestoreScript),
    Registration: plan.source,
    RequiresAcceptance: plan.requiresAcceptance,
  };
}

/** "CA (Directory, path '/srv/ca')" or "ECE (PowerShell, BackupScript SHA-256 …, RestoreScript SHA-256 …)". */
function roleSummary(role: RestorePlanRole): string {
  const facts: string[] = [role.Provider];
  if (role.Path !== null) facts.push(`path '${role.Path}'`);
  if (role.BackupScriptSha256) facts.push(`BackupScript SHA-256 ${role.BackupScriptSha256}`);
  if (role.RestoreScriptSha256) facts.push(`RestoreScript SHA-256 ${role.RestoreScriptSha256}`);
  return `${role.RoleName} (${facts.join(', ')})`;
}

/** Stops a restore that would adopt registrations from an unknown backup without the operator's word. */
function refuseUnaccepted(backup: StoredBackup, plans: RolePlan[], accepted: boolean): void {
  const unaccepted = plans.filter((plan) => plan.requiresAcceptance);
  if (accepted || !unaccepted.length) return;
  throw new AzsError(
    'RolesNotAccepted',
    `Backup ${backup.manifest.BackupId} is not known to this deployment (this deployment did not write it, or its manifest changed since), and restoring it would take these roles' registrations from the backup: ${unaccepted.map((plan) => roleSummary(describePlan(plan))).join('; ')}. A PowerShell role's scripts would run as the daemon's account, and a role's data would be written to the path above. Nothing was restored. Review the roles with Restore-AzsBackup -WhatIf, then run the restore again with -AcceptBackupRoles to accept them.`,
    { parameter: 'AcceptBackupRoles', target: backup.manifest.BackupId },
  );
}

/** The roles named (each once, whatever its case), or every role that holds data. */
function selectRoles(manifest: BackupManifest, roleNames: RoleNames): ManifestRole[] {
  const names = [roleNames ?? []].flat();
  if (!names.length) return manifest.Roles.filter((role) => role.Files.length > 0);
  const lowered = names.map((name) => name.toLowerCase());
  return names
    .filter((name, index) => lowered.indexOf(name.toLowerCase()) === index)
    .map((name) => selectRole(manifest, name));
}

function selectRole(manifest: BackupManifest, roleName: string): ManifestRole {
  const role = manifest.Roles.find(
    (candidate) => candidate.Registration.Name.toLowerCase() === roleName.toLowerCase(),
  );
  if (!role) {
    throw new AzsError(
      'RoleNotFound',
      `Backup ${manifest.BackupId} has no role '${roleName}'; it has ${manifest.Roles.map((r) => r.Registration.Name).join(', ')}.`,
      {
        parameter: 'RoleName',
        target: roleName,
      },
    );
  }
  if (!role.Files.length) {
    throw new AzsError(
      'BackupCorrupt',
      `Role '${roleName}' failed in backup ${manifest.BackupId}, so it holds no data to restore. Choose another backup.`,
      {
        parameter: 'RoleName',
        target: roleName,
      },
    );
  }
  return role;
}

/** Checks one role's stored files; with the key, decrypts and hash-checks every entry too. */
async function verifyRole(
  store: StoredBackupAccess,
  role: ManifestRole,
  key: Buffer | null,
): Promise<BackupTestResult> {
  const result = { BackupId: store.backup.manifest.BackupId, RoleName: role.Registration.Name };
  for (const file of role.Files) {
    const problem = await verifyStoredFile(await store.read(file.Path), file);
    if (problem)
      return { ...result, Status: 'Failed', ErrorMessage: `${file.Path}: ${problem}`, File: file.Path };
    if (!key) continue;
    const verdict = await verifyRoleArchive(await store.read(file.Path), {
      key,
      fileId: fileIdOf(store.backup.manifest.BackupId, role.Registration.Name),
      formatVersion: store.backup.manifest.FormatVersion,
    });
    if (!verdict.ok)
      return {
        ...result,
        Status: 'Failed',
        ErrorMessage: verdict.message,
        File: verdict.file ? `${file.Path}:${verdict.file}` : file.Path,
      };
  }
  return { ...result, Status: 'Succeeded', ErrorMessage: null, File: null };
}

/** Test-AzsBackup's verdict on every role when the manifest itself does not authenticate. */
function manifestFailure(backup: StoredBackup, role: ManifestRole, error: AzsError): BackupTestResult {
  return {
    BackupId: backup.manifest.BackupId,
    RoleName: role.Registration.Name,
    Status: 'Failed',
    ErrorMessage: error.message,
    File: MANIFEST_FILE_NAME,
  };
}

interface StoredBackupAccess {
  backup: StoredBackup;
  read(relative: string): ReturnType<BackupStore['readFile']>;
}

function access(store: BackupStore, backup: StoredBackup): StoredBackupAccess {
  return { backup, read: (relative) => store.readFile(`${backup.folder}/${relative}`) };
}

export class RecoveryService {
  constructor(private readonly deps: RecoveryDeps) {}

  async test(
    store: BackupStore,
    name: string,
    decryption: DecryptionRequest | null,
  ): Promise<BackupTestResult[]> {
    const backup = await this.deps.catalog.get(store, name);
    const roles = backup.manifest.Roles.filter((candidate) => candidate.Files.length);
    let key: Buffer | null = null;
    try {
      key = decryption ? await authenticatedKey(backup, decryption) : null;
    } catch (error) {
      if (!isAzsError(error, 'BackupCorrupt')) throw error;
      return roles.map((role) => manifestFailure(backup, role, error));
    }
    try {
      const results: BackupTestResult[] = [];
      for (const role of roles) results.push(await verifyRole(access(store, backup), role, key));
      return results;
    } finally {
      key?.fill(0);
    }
  }

  /** backup.restorePlan: what a restore would do, for -WhatIf and the confirmation; changes nothing. */
  async plan(store: BackupStore, name: string, roleNames: RoleNames): Promise<RestorePlan> {
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
   * Restores every selected role that verifies. Resolves with the roles restored and those not
   * (each with its error) when at least one was restored; rejects when none was, or when the
   * restore as a whole fails (the .pfx, acceptance, a cancel).
   */
  async restore(
    store: BackupStore,
    request: DecryptionRequest & { Name: string; RoleName?: RoleNames; AcceptBackupRoles?: boolean },
    progress: ProgressSink,
    signal: AbortSignal,
    onAccepted: (backupId: string) => void = () => undefined,
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
    const job: JobInput = {
      JobId: randomUUID(),
      Kind: 'Restore',
      BackupId: manifest.BackupId,
      IsAutomatic: false,
      StartTime: this.deps.clock.now().toISOString(),
      EndTime: null,
      Outcome: 'Running',
      ErrorMessage: null,
      Roles: plans.map((plan) => ({
        RoleName: plan.role.Registration.Name,
        Status: 'Queued',
        ErrorMessage: null,
      })),
    };
    const key = await authenticatedKey(backup, request).catch((error: unknown) => {
      this.deps.jobs.release(claim);
      throw error;
    });
    // The request is sound (backup, role, .pfx, password): a caller that does not wait may go now.
    onAccepted(manifest.BackupId);
    const combined = AbortSignal.any([signal, claim.abort.signal]);
    const outcome: RestoreOutcome = { restored: [], failures: new Map(), warnings: new Map() };
    try {
      await this.deps.history.save(job);
      await this.verifyAll(access(store, backup), plans, key, outcome, progress, combined);
      const verified = plans.filter((plan) => !outcome.failures.has(plan.role.Registration.Name));
      // Only the roles being restored, and only those restored through the backup's registration.
      await this.deps.roles.adopt(
        verified.filter((plan) => plan.source === 'Backup').map((plan) => plan.registration),
      );
      for (const [index, { role, registration }] of verified.entries()) {
        combined.throwIfAborted();
        const name = role.Registration.Name;
        progress({
          activity: 'Restoring infrastructure roles',
          status: `${name}: restoring`,
          percentComplete: Math.floor((100 * index) / verified.length),
          roleName: name,
        });
        try {
          outcome.warnings.set(
            name,
            await this.restoreRole(store, backup, role, registration, key, combined),
          );
          outcome.restored.push(name);
        } catch (error) {
          if (combined.aborted) throw error;
          outcome.failures.set(name, roleFailure(name, error, `Role ${name} was not restored: `));
        }
      }
      if (!outcome.restored.length) throw nothingRestored(manifest.BackupId, [...outcome.failures.values()]);
      await this.finish(job, outcome, null);
      return {
        BackupId: manifest.BackupId,
        RestoredRoles: outcome.restored,
        FailedRoles: [...outcome.failures.values()],
      };
    } catch (caught) {
      const error = combined.aborted ? cancelled(manifest.BackupId) : caught;
      await this.finish(job, outcome, error);
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

  /** Verifies every planned role; a role that fails (or cannot be read) is recorded as not restored. */
  private async verifyAll(
    store: StoredBackupAccess,
    plans: RolePlan[],
    key: Buffer,
    outcome: RestoreOutcome,
    progress: ProgressSink,
    signal: AbortSignal,
  ): Promise<void> {
    const { BackupId } = store.backup.manifest;
    for (const [index, { role }] of plans.entries()) {
      signal.throwIfAborted();
      const name = role.Registration.Name;
      progress({
        activity: 'Verifying the backup before restoring',
        status: `${name}: verifying`,
        percentComplete: Math.floor((100 * index) / plans.length),
        roleName: name,
      });
      const result = await verifyRole(store, role, key).catch((error: unknown) => {
        if (signal.aborted) throw error;
        outcome.failures.set(name, roleFailure(name, error, `Role ${name} could not be verified: `));
        return null;
      });
      if (result?.Status !== 'Failed') continue;
      outcome.failures.set(name, {
        RoleName: name,
        Reason: 'BackupCorrupt',
        ErrorMessage: `Backup ${BackupId} failed verification in role ${name} (${result.File}): ${result.ErrorMessage}. Role ${name} was not restored and its current data is untouched; run Test-AzsBackup, and restore the role from an earlier backup (-RoleName ${name}).`,
        File: result.File,
      });
    }
  }

  private async restoreRole(
    store: BackupStore,
    backup: StoredBackup,
    role: ManifestRole,
    registration: Role,
    key: Buffer,
    signal: AbortSignal,
  ): Promise<string[]> {
    const stagingDir = this.deps.state.stagingFor(`restore-${backup.manifest.BackupId}`, registration.Name);
    await rm(stagingDir, { recursive: true, force: true });
    await mkdir(stagingDir, { recursive: true, mode: 0o700 });
    const warnings: string[] = [];
    try {
      for (const file of role.Files) {
        const entries = readRoleArchive(await store.readFile(`${backup.folder}/${file.Path}`), {
          key,
          fileId: fileIdOf(backup.manifest.BackupId, role.Registration.Name),
          formatVersion: backup.manifest.FormatVersion,
        });
        const result = await providerFor(registration.Provider).restore(registration, entries, {
          stagingDir,
          signal,
        });
        warnings.push(...result.warnings);
      }
      return warnings;
    } finally {
      await rm(stagingDir, { recursive: true, force: true });
    }
  }

  /**
   * Records the restore as it happened: a role whose data was swapped in is Succeeded, even when its
   * previous data could not be removed afterwards; that role's warnings (naming what was left where)
   * go into its ErrorMessage and the log. A role not reached stays Queued here, and the history
   * closes it as Failed with the job's error.
   */
  private async finish(job: JobInput, outcome: RestoreOutcome, error: unknown): Promise<void> {
    const statuses: RoleStatus[] = job.Roles.map((role) => {
      const name = role.RoleName;
      const failure = outcome.failures.get(name);
      if (failure) return { RoleName: name, Status: 'Failed', ErrorMessage: failure.ErrorMessage };
      if (!outcome.restored.includes(name)) return role;
      const roleWarnings = outcome.warnings.get(name) ?? [];
      if (roleWarnings.length)
        this.deps.log.warn('role restored with a warning', { role: name, warnings: roleWarnings });
      return { RoleName: name, Status: 'Succeeded', ErrorMessage: roleWarnings.join(' ') || null };
    });
    const result = jobOutcome(outcome, error);
    const failures = [...outcome.failures.values()].map((failure) => failure.ErrorMessage);
    await this.deps.history.save({
      ...job,
      EndTime: this.deps.clock.now().toISOString(),
      Outcome: result,
      ErrorMessage: error ? String((error as Error).message ?? error) : failures.join(' ') || null,
      Roles: statuses,
    });
    this.deps.log.info('restore finished', {
      backupId: job.BackupId,
      outcome: result,
      restored: outcome.restored,
      notRestored: [...outcome.failures.keys()],
    });
  }
}

/** What a restore has done so far: the roles restored, those not (with why), each role's warnings. */
interface RestoreOutcome {
  restored: string[];
  failures: Map<string, RestoreRoleFailure>;
  warnings: Map<string, string[]>;
}

function jobOutcome(outcome: RestoreOutcome, error: unknown): JobRecord['Outcome'] {
  if (isAzsError(error, 'JobCancelled')) return 'Cancelled';
  if (!outcome.restored.length) return 'Failed';
  return error || outcome.failures.size ? 'PartialSucceeded' : 'Succeeded';
}

/** A role's failure as the restore reports it: the error's own reason, else RoleFailed. */
function roleFailure(name: string, error: unknown, prefix: string): RestoreRoleFailure {
  const message = String((error as Error)?.message ?? error);
  return {
    RoleName: name,
    Reason: isAzsError(error) ? error.reason : 'RoleFailed',
    ErrorMessage: `${prefix}${message}`,
    File: null,
  };
}

/** The restore's error when no role could be restored: the first failure's reason, every failure's message. */
function nothingRestored(backupId: string, failures: RestoreRoleFailure[]): AzsError {
  const [first] = failures;
  return new AzsError(
    (first?.Reason ?? 'RoleFailed') as ErrorReason,
    `Nothing was restored from backup ${backupId}. ${failures.map((failure) => failure.ErrorMessage).join(' ')}`,
    { target: first?.File ?? first?.RoleName },
  );
}

function cancelled(backupId: string): AzsError {
  return new AzsError(
    'JobCancelled',
    `The restore of backup ${backupId} was cancelled; a role restored before it stays restored, the others were not touched.`,
  );
}
