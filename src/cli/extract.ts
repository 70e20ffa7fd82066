/**
 * `azsbackup extract`: the way out when everything else is lost. Needs only a backup folder and the
 * certificate's .pfx: no daemon, no state folder. Writes each role's data to `<out>/<RoleName>/`
 * and the manifest to `<out>/BackupInfo.json`.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readRoleArchive, verifyStoredFile } from '../archive/index.js';
import { checkManifestAuthentication, fileIdOf, parseManifest } from '../archive/manifest.js';
import { readCertificateFile } from '../crypto/certificates.js';
import { readPfx, unwrapKey } from '../crypto/keyWrap.js';
import { MANIFEST_NAME } from '../engine/layout.js';
import { AzsError } from '../protocol/errors.js';
import { writeTree } from '../roles/index.js';

export interface ExtractRequest {
  backupFolder: string;
  pfxPath: string;
  pfxPassword: string;
  outDir: string;
  roleName?: string;
}

export interface ExtractedRole {
  RoleName: string;
  Entries: number;
  Folder: string;
}

export async function extractBackup(
  request: ExtractRequest,
  onRole: (role: string) => void = () => undefined,
): Promise<ExtractedRole[]> {
  const manifestFile = path.join(request.backupFolder, MANIFEST_NAME);
  const manifestText = await readFile(manifestFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new AzsError(
      'BackupNotFound',
      `${manifestFile} cannot be read (${error.code}): --backup must name a backup folder, the one holding ${MANIFEST_NAME}.`,
      {
        parameter: 'backup',
      },
    );
  });
  const manifest = parseManifest(manifestText, manifestFile);
  const pfxBytes = await readCertificateFile(request.pfxPath, '--pfx', "the encryption certificate's .pfx");
  const pfx = readPfx(pfxBytes, request.pfxPassword, request.pfxPath);
  const key = unwrapKey(manifest.Encryption.WrappedKey, manifest.Encryption.CertificateThumbprint, pfx);
  try {
    checkManifestAuthentication(manifest, key, manifestFile);
  } catch (error) {
    key.fill(0);
    throw error;
  }
  const roles = manifest.Roles.filter(
    (role) => !request.roleName || role.Registration.Name.toLowerCase() === request.roleName.toLowerCase(),
  );
  if (request.roleName && !roles.length) {
    throw new AzsError(
      'RoleNotFound',
      `The backup has no role '${request.roleName}'; it has ${manifest.Roles.map((role) => role.Registration.Name).join(', ')}.`,
      {
        parameter: 'role',
      },
    );
  }
  await mkdir(request.outDir, { recursive: true });
  const extracted: ExtractedRole[] = [];
  for (const role of roles) {
    if (!role.Files.length) continue;
    onRole(role.Registration.Name);
    const folder = path.join(request.outDir, role.Registration.Name);
    for (const file of role.Files) {
      const stored = path.join(request.backupFolder, ...file.Path.split('/'));
      const problem = await verifyStoredFile(createReadStream(stored), file);
      if (problem) throw new AzsError('BackupCorrupt', `${file.Path}: ${problem}`, { target: file.Path });
      const fileId = fileIdOf(manifest.BackupId, role.Registration.Name);
      await writeTree(
        readRoleArchive(createReadStream(stored), { key, fileId, formatVersion: manifest.FormatVersion }),
        folder,
      );
    }
    extracted.push({ RoleName: role.Registration.Name, Entries: role.Entries, Folder: folder });
  }
  key.fill(0);
  await writeFile(path.join(request.outDir, MANIFEST_NAME), manifestText);
  return extracted;
}
