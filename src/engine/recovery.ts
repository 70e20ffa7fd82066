/**
 * Cloud recovery and validation. Restore-AzsBackup checks the manifest's MAC, then verifies the
 * whole selection — every stored byte against the manifest, every chunk decrypted and authenticated,
 * every file hash — and only then replaces each role's data through its provider (write beside, then
 * swap). Test-AzsBackup runs the same verification and writes nothing.
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
import { AzsError, isAzsError } from '../protocol/errors.js';
import type {
  BackupTestResult,
  RestorePlan,
  RestorePlanRole,
  Role,
  RoleStatus,
} from '../protocol/objects.js';
import { providerFor } from '../roles/index.js';
import type { JobHistory, JobRecord } from '../state/jobHistory.js';
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

function selectRoles(manifest: BackupManifest, roleName?: string): ManifestRole[] {
  if (!roleName) return manifest.Roles.filter((role) => role.Files.length > 0);
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
  return [role];
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
  async plan(store: BackupStore, name: string, roleName?: string): Promise<RestorePlan> {
    const backup = await this.deps.catalog.get(store, name);
    const plans = planRoles(
      selectRoles(backup.manifest, roleName),
      await this.deps.roles.list(),
      backup.isKnown,
    );
    return {
      BackupId: backup.manifest.BackupId,
      IsKnownToDeployment: backup.isKnown,
      Roles: plans.map(describePlan),
    };
  }

  async restore(
    store: BackupStore,
    request: DecryptionRequest & { Name: string; RoleName?: string; AcceptBackupRoles?: boolean },
    progress: ProgressSink,
    signal: AbortSignal,
    onAccepted: (backupId: string) => void = () => undefined,
  ): Promise<{ BackupId: string; RestoredRoles: string[] }> {
    const backup = await this.deps.catalog.get(store, request.Name);
    const { manifest } = backup;
    const plans = planRoles(
      selectRoles(manifest, request.RoleName),
      await this.deps.roles.list(),
      backup.isKnown,
    );
    refuseUnaccepted(backup, plans, request.AcceptBackupRoles === true);
    const roles = plans.map((plan) => plan.role);
    const claim = this.deps.jobs.claim('Restore', manifest.BackupId);
    const job: JobRecord = {
      JobId: randomUUID(),
      Kind: 'Restore',
      BackupId: manifest.BackupId,
      IsAutomatic: false,
      StartTime: this.deps.clock.now().toISOString(),
      EndTime: null,
      Outcome: 'Running',
      ErrorMessage: null,
      Roles: [],
    };
    const key = await authenticatedKey(backup, request).catch((error: unknown) => {
      this.deps.jobs.release(claim);
      throw error;
    });
    // The request is sound (backup, role, .pfx, password): a caller that does not wait may go now.
    onAccepted(manifest.BackupId);
    const combined = AbortSignal.any([signal, claim.abort.signal]);
    const restored: string[] = [];
    const warnings = new Map<string, string[]>();
    try {
      await this.deps.history.save(job);
      await this.verifyAll(access(store, backup), roles, key, progress);
      // Only the roles being restored, and only those restored through the backup's registration.
      await this.deps.roles.adopt(
        plans.filter((plan) => plan.source === 'Backup').map((plan) => plan.registration),
      );
      for (const [index, { role, registration }] of plans.entries()) {
        combined.throwIfAborted();
        const name = role.Registration.Name;
        progress({
          activity: 'Restoring infrastructure roles',
          status: `${name}: restoring`,
          percentComplete: Math.floor((100 * index) / roles.length),
          roleName: name,
        });
        warnings.set(name, await this.restoreRole(store, backup, role, registration, key, combined));
        restored.push(name);
      }
      await this.finish(job, roles, restored, null, warnings);
      return { BackupId: manifest.BackupId, RestoredRoles: restored };
    } catch (error) {
      await this.finish(job, roles, restored, error, warnings);
      const notRestored = roles
        .map((role) => role.Registration.Name)
        .filter((name) => !restored.includes(name));
      if (error instanceof AzsError && restored.length) {
        throw new AzsError(
          error.reason,
          `${error.message} Restored: ${restored.join(', ')}; not restored: ${notRestored.join(', ')}.`,
          {
            parameter: error.parameter,
            target: error.target,
          },
        );
      }
      throw error;
    } finally {
      key.fill(0);
      this.deps.jobs.release(claim);
    }
  }

  private async verifyAll(
    store: StoredBackupAccess,
    roles: ManifestRole[],
    key: Buffer,
    progress: ProgressSink,
  ): Promise<void> {
    for (const [index, role] of roles.entries()) {
      progress({
        activity: 'Verifying the backup before restoring',
        status: `${role.Registration.Name}: verifying`,
        percentComplete: Math.floor((100 * index) / roles.length),
        roleName: role.Registration.Name,
      });
      const result = await verifyRole(store, role, key);
      if (result.Status === 'Failed') {
        throw new AzsError(
          'BackupCorrupt',
          `Backup ${store.backup.manifest.BackupId} failed verification in role ${result.RoleName} (${result.File}): ${result.ErrorMessage}. Nothing was restored; run Test-AzsBackup, and restore an earlier backup.`,
          { target: result.File ?? result.RoleName },
        );
      }
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
   * go into its ErrorMessage and the log.
   */
  private async finish(
    job: JobRecord,
    roles: ManifestRole[],
    restored: string[],
    error: unknown,
    warnings: Map<string, string[]>,
  ): Promise<void> {
    const statuses: RoleStatus[] = roles.map((role) => {
      const name = role.Registration.Name;
      const roleWarnings = warnings.get(name) ?? [];
      if (roleWarnings.length)
        this.deps.log.warn('role restored with a warning', { role: name, warnings: roleWarnings });
      return {
        RoleName: name,
        Status: restored.includes(name) ? 'Succeeded' : 'Failed',
        ErrorMessage: restored.includes(name)
          ? roleWarnings.join(' ') || null
          : error
            ? String((error as Error).message ?? error)
            : null,
      };
    });
    const outcome = !error ? 'Succeeded' : restored.length ? 'PartialSucceeded' : 'Failed';
    await this.deps.history.save({
      ...job,
      EndTime: this.deps.clock.now().toISOString(),
      Outcome: outcome,
      ErrorMessage: error ? String((error as Error).message ?? error) : null,
      Roles: statuses,
    });
    this.deps.log.info('restore finished', { backupId: job.BackupId, outcome, restored });
  }
}
