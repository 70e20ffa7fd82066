/**
 * What a share writer can do without the .pfx or the daemon's state folder: edit a backup's
 * manifest on the store, and — since the encryption certificate is public — write a complete backup
 * of their own, valid in every byte, wrapped to the deployment's certificate.
 */
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArchiveEntry } from '../../src/archive/entry.js';
import { BLOCK_SIZE, writeRoleArchive } from '../../src/archive/index.js';
import { authenticateManifest, fileIdOf, serializeManifest } from '../../src/archive/manifest.js';
import { thumbprintOf } from '../../src/crypto/certificates.js';
import { generateBackupKey, wrapKey } from '../../src/crypto/keyWrap.js';
import { backupFolder, roleFile } from '../../src/engine/layout.js';
import type { Role } from '../../src/protocol/objects.js';

/** The folder of a backup on a local-folder store. */
export function backupFolderOf(store: string, backupId: string): string {
  const root = path.join(store, 'MASBackup');
  const stamp = readdirSync(root).find((name) => existsSync(path.join(root, name, backupId)))!;
  return path.join(root, stamp, backupId);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a share writer breaks the typed shape on purpose
type Untyped = Record<string, any>;

/** Rewrites a backup's BackupInfo.json in place, as any share writer can. */
export function editManifest(store: string, backupId: string, edit: (manifest: Untyped) => void) {
  const file = path.join(backupFolderOf(store, backupId), 'BackupInfo.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8'));
  edit(manifest);
  writeFileSync(file, JSON.stringify(manifest, null, 2));
}

/** One file of a forged role's data. */
export function fileEntry(entryPath: string, content: string): ArchiveEntry {
  const bytes = Buffer.from(content);
  return {
    path: entryPath,
    type: 'file',
    mode: 0o644,
    mtimeMs: Date.now(),
    size: bytes.length,
    content: () => Readable.from([bytes]),
  };
}

async function* listOf(entries: ArchiveEntry[]): AsyncGenerator<ArchiveEntry> {
  yield* entries;
}

/**
 * Writes a complete backup of `roles` to a local-folder store with nothing but the public
 * certificate: a fresh key wrapped to it, role files, an authenticated manifest. Returns its id.
 */
export async function forgeBackup(options: {
  store: string;
  cerPath: string;
  location: string;
  created: Date;
  roles: Array<{ registration: Role; entries: ArchiveEntry[] }>;
}): Promise<string> {
  const certificate = new X509Certificate(readFileSync(options.cerPath));
  const backupId = randomUUID();
  const folder = path.join(options.store, backupFolder(options.created, backupId));
  const key = generateBackupKey();
  const roles = [];
  for (const { registration, entries } of options.roles) {
    mkdirSync(path.join(folder, registration.Name), { recursive: true });
    const relative = roleFile(registration.Name);
    const archive = writeRoleArchive(listOf(entries), { key, fileId: fileIdOf(backupId, registration.Name) });
    await pipeline(archive.stream, createWriteStream(path.join(folder, relative)));
    const summary = await archive.summary;
    const stored = readFileSync(path.join(folder, relative));
    roles.push({
      Registration: registration,
      Files: [
        {
          Path: relative,
          Size: stored.length,
          Sha256: createHash('sha256').update(stored).digest('hex'),
          FileId: fileIdOf(backupId, registration.Name),
        },
      ],
      Entries: summary.entries,
      SourceBytes: summary.sourceBytes,
    });
  }
  const thumbprint = thumbprintOf(certificate.raw);
  const manifest = authenticateManifest(
    {
      BackupId: backupId,
      Name: `${options.location}/${backupId}`,
      Status: 'Succeeded',
      RoleStatus: roles.map((role) => ({
        RoleName: role.Registration.Name,
        Status: 'Succeeded',
        ErrorMessage: null,
      })),
      CreatedDateTime: options.created.toISOString(),
      TimeTakenToCreate: 'PT1S',
      BackupDataVersion: '1.0.0',
      DeploymentId: randomUUID(),
      StampVersion: '0.1.0',
      IsCloudRecoveryReady: true,
      EncryptionCertThumbprint: thumbprint,
      BackupSizeInKb: 1,
      CompressedBackupSizeInKb: 1,
      IsAutomaticBackup: false,
      CompletelyUploaded: true,
      FormatVersion: 3,
      Location: options.location,
      Encryption: {
        Algorithm: 'AES-256-GCM',
        KeyWrap: 'RSA-OAEP-SHA256',
        WrappedKey: wrapKey(key, certificate.toString()),
        CertificateThumbprint: thumbprint,
        BlockSize: BLOCK_SIZE,
      },
      Compression: 'zstd',
      Roles: roles,
    },
    key,
  );
  writeFileSync(path.join(folder, 'BackupInfo.json'), serializeManifest(manifest));
  key.fill(0);
  return backupId;
}
