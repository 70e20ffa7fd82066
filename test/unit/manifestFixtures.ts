/** A manifest as the backup job writes it, for tests of the manifest and the catalog. */
import { randomBytes } from 'node:crypto';
import { FORMAT_VERSION, type UnsealedManifest } from '../../src/archive/manifest.js';

export const THUMBPRINT = 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678';

/** A sound manifest (before its MAC) of backup `backupId` with no roles; `fields` replace its own. */
export function unsealedManifest(backupId: string, fields: Partial<UnsealedManifest> = {}): UnsealedManifest {
  return {
    BackupId: backupId,
    Name: `local/${backupId}`,
    Status: 'Succeeded',
    RoleStatus: [{ RoleName: 'CA', Status: 'Succeeded', ErrorMessage: null }],
    CreatedDateTime: '2026-11-26T12:00:00.000Z',
    TimeTakenToCreate: 'PT1S',
    BackupDataVersion: '1.0.0',
    DeploymentId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
    StampVersion: '0.1.0',
    IsCloudRecoveryReady: true,
    EncryptionCertThumbprint: THUMBPRINT,
    BackupSizeInKb: 1,
    CompressedBackupSizeInKb: 1,
    IsAutomaticBackup: false,
    CompletelyUploaded: true,
    FormatVersion: FORMAT_VERSION,
    Location: 'local',
    Encryption: {
      Algorithm: 'AES-256-GCM',
      KeyWrap: 'RSA-OAEP-SHA256',
      WrappedKey: randomBytes(384).toString('base64'),
      CertificateThumbprint: THUMBPRINT,
      BlockSize: 4 * 1024 * 1024,
    },
    Compression: 'zstd',
    Roles: [],
    ...fields,
  };
}
