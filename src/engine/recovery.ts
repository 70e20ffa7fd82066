/**
 * Cloud recovery and validation. Restore-AzsBackup verifies the whole selection first — every
 * stored byte against the manifest, every chunk decrypted and authenticated, every file hash — and
 * only then replaces each role's data through its provider (write beside, then swap). Test-AzsBackup
 * runs the same verification and writes nothing.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { readRoleArchive, verifyRoleArchive, verifyStoredFile } from '../archive/index.js';
import type { BackupManifest } from '../archive/manifest.js';
import { readCertificateFile } from '../crypto/certificates.js';
import { readPfx, unwrapKey } from '../crypto/keyWrap.js';
import { AzsError } from '../protocol/errors.js';
import type { BackupTestResult, Role, RoleStatus } from '../protocol/objects.js';
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
    const verdict = await verifyRoleArchive(await store.read(file.Path), { key, fileId: file.FileId });
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
    const key = decryption ? await backupKey(backup.manifest, decryption) : null;
    try {
      const results: BackupTestResult[] = [];
      for (const role of backup.manifest.Roles.filter((candidate) => candidate.Files.length))
        results.push(await verifyRole(access(store, backup), role, key));
      return results;
    } finally {
      key?.fill(0);
    }
  }

  async restore(
    store: BackupStore,
    request: DecryptionRequest & { Name: string; RoleName?: string },
    progress: ProgressSink,
    signal: AbortSignal,
    onAccepted: (backupId: string) => void = () => undefined,
  ): Promise<{ BackupId: string; RestoredRoles: string[] }> {
    const backup = await this.deps.catalog.get(store, request.Name);
    const { manifest } = backup;
    selectRoles(manifest, request.RoleName);
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
    const key = await backupKey(manifest, request).catch((error: unknown) => {
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
      const roles = selectRoles(manifest, request.RoleName);
      await this.verifyAll(access(store, backup), roles, key, progress);
      await this.deps.roles.adopt(manifest.Roles.map((role) => role.Registration as Role));
      const current = await this.deps.roles.list();
      for (const [index, role] of roles.entries()) {
        combined.throwIfAborted();
        const name = role.Registration.Name;
        progress({
          activity: 'Restoring infrastructure roles',
          status: `${name}: restoring`,
          percentComplete: Math.floor((100 * index) / roles.length),
          roleName: name,
        });
        const registration =
          current.find((candidate) => candidate.Name.toLowerCase() === name.toLowerCase()) ??
          (role.Registration as Role);
        warnings.set(name, await this.restoreRole(store, backup, role, registration, key, combined));
        restored.push(name);
      }
      await this.finish(job, roles, restored, null, warnings);
      return { BackupId: manifest.BackupId, RestoredRoles: restored };
    } catch (error) {
      const roles = manifest.Roles.filter(
        (role) => !request.RoleName || role.Registration.Name === request.RoleName,
      );
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
          fileId: file.FileId,
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
