/**
 * What a recovery needs before it reads a role: the backup key, unwrapped with the operator's .pfx
 * and checked against the manifest's MAC, and a reader of the backup's stored files (the reading
 * itself is recoveryPass.ts's).
 */
import { MANIFEST_FILE_NAME, checkManifestAuthentication } from '../archive/manifest.js';
import { readCertificateFile } from '../crypto/certificates.js';
import { readPfx, unwrapKey } from '../crypto/keyWrap.js';
import type { AzsError } from '../protocol/errors.js';
import type { BackupTestResult } from '../protocol/objects.js';
import type { BackupStore } from '../storage/store.js';
import type { BackupManifest } from '../archive/manifest.js';
import type { StoredBackup } from './catalog.js';
import type { BackupReader } from './recoveryPass.js';
import type { ManifestRole } from './recoveryPlan.js';

export interface DecryptionRequest {
  DecryptionCertPath: string;
  DecryptionCertPassword: string;
}

/** The backup key, unwrapped with the operator's .pfx (used in memory, never stored). */
async function backupKey(
  manifest: BackupManifest,
  request: DecryptionRequest,
  parameter: string,
): Promise<Buffer> {
  const pfxBytes = await readCertificateFile(
    request.DecryptionCertPath,
    parameter,
    'the .pfx of the certificate the backup was made with',
  );
  const certificate = readPfx(pfxBytes, request.DecryptionCertPassword, request.DecryptionCertPath);
  const { WrappedKey, CertificateThumbprint } = manifest.Encryption;
  return unwrapKey(WrappedKey, CertificateThumbprint, certificate, manifest.Name);
}

/**
 * The backup key, once the manifest's MAC (format 3) has been checked with it; BackupCorrupt
 * otherwise. `parameter` names where the .pfx path came from, for the error when it cannot be read.
 */
export async function authenticatedKey(
  backup: Pick<StoredBackup, 'manifest' | 'folder'>,
  request: DecryptionRequest,
  parameter = 'DecryptionCertPath',
): Promise<Buffer> {
  const key = await backupKey(backup.manifest, request, parameter);
  try {
    checkManifestAuthentication(backup.manifest, key, `${backup.folder}/${MANIFEST_FILE_NAME}`);
    return key;
  } catch (error) {
    key.fill(0);
    throw error;
  }
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

/** A backup in a store (its folder relative to the store's root), as the recovery path reads it. */
export function readerOf(
  store: BackupStore,
  backup: Pick<StoredBackup, 'folder' | 'manifest'>,
): BackupReader {
  return {
    manifest: backup.manifest,
    read: (relative) => store.readFile(`${backup.folder}/${relative}`),
    repository: store,
  };
}
