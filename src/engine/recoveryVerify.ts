/**
 * Verification of a stored backup: the key unwrapped with the operator's .pfx and the manifest's MAC
 * checked with it, then every stored byte of a role against the manifest and, with the key, every
 * chunk decrypted and authenticated and every file hash checked.
 */
import { verifyRoleArchive, verifyStoredFile } from '../archive/index.js';
import { MANIFEST_FILE_NAME, checkManifestAuthentication, fileIdOf } from '../archive/manifest.js';
import { readCertificateFile } from '../crypto/certificates.js';
import { readPfx, unwrapKey } from '../crypto/keyWrap.js';
import type { AzsError } from '../protocol/errors.js';
import type { BackupTestResult } from '../protocol/objects.js';
import type { BackupStore } from '../storage/store.js';
import type { BackupManifest } from '../archive/manifest.js';
import type { StoredBackup } from './catalog.js';
import type { ProgressListener } from './job.js';
import type { ManifestRole, RolePlan } from './recoveryPlan.js';
import { roleFailure, type RestoreOutcome } from './restoreOutcome.js';

export interface DecryptionRequest {
  DecryptionCertPath: string;
  DecryptionCertPassword: string;
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
export async function authenticatedKey(backup: StoredBackup, request: DecryptionRequest): Promise<Buffer> {
  const key = await backupKey(backup.manifest, request);
  try {
    checkManifestAuthentication(backup.manifest, key, `${backup.folder}/${MANIFEST_FILE_NAME}`);
    return key;
  } catch (error) {
    key.fill(0);
    throw error;
  }
}

/** Checks one role's stored files; with the key, decrypts and hash-checks every entry too. */
export async function verifyRole(
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
export function manifestFailure(backup: StoredBackup, role: ManifestRole, error: AzsError): BackupTestResult {
  return {
    BackupId: backup.manifest.BackupId,
    RoleName: role.Registration.Name,
    Status: 'Failed',
    ErrorMessage: error.message,
    File: MANIFEST_FILE_NAME,
  };
}

export interface StoredBackupAccess {
  backup: StoredBackup;
  read(relative: string): ReturnType<BackupStore['readFile']>;
}

export function access(store: BackupStore, backup: StoredBackup): StoredBackupAccess {
  return { backup, read: (relative) => store.readFile(`${backup.folder}/${relative}`) };
}

/** Verifies every planned role; a role that fails (or cannot be read) is recorded as not restored. */
export async function verifyAll(
  store: StoredBackupAccess,
  plans: RolePlan[],
  key: Buffer,
  outcome: RestoreOutcome,
  progress: ProgressListener,
  signal: AbortSignal,
): Promise<void> {
  const { BackupId } = store.backup.manifest;
  for (const [index, { role }] of plans.entries()) {
    signal.throwIfAborted();
    const name = role.Registration.Name;
    progress({
      role: name,
      phase: 'verifying',
      bytes: 0,
      totalBytes: null,
      done: index,
      total: plans.length,
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
