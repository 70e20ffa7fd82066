/**
 * `azsbackup extract`: the way out when everything else is lost. Needs only a backup folder (on this
 * machine, or in a blob container with its credential) and the certificate's .pfx: no daemon, no
 * state folder. Writes each role's data to `<out>/<RoleName>/` and the manifest to
 * `<out>/BackupInfo.json`.
 */
import { lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  REPOSITORY_FORMAT_VERSION,
  holdsData,
  parseManifest,
  type BackupManifest,
} from '../archive/manifest.js';
import { BACKUP_ROOT, MANIFEST_NAME } from '../engine/layout.js';
import { readRole, type BackupReader } from '../engine/recoveryPass.js';
import { authenticatedKey, readerOf } from '../engine/recoveryVerify.js';
import { AzsError } from '../protocol/errors.js';
import { buildBeside, writeTree } from '../roles/index.js';
import { LocalFolderStore } from '../storage/localStore.js';
import { type ContainerBackup, openContainerBackup } from './containerBackup.js';

export interface ExtractRequest {
  /** The backup folder's path, or its URL when `container` says it is in a blob container. */
  backupFolder: string;
  container?: ContainerBackup | null;
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

/** Opens a backup folder for reading; tests may pass one that watches the reads. */
export type OpenBackupFolder = (backupFolder: string, manifest: BackupManifest) => BackupReader;

/** A backup to extract: its manifest's text, and a reader of its stored files once it is parsed. */
export interface BackupSource {
  /** The manifest's path or URL, for messages. */
  manifestFile: string;
  manifestText: string;
  reader(manifest: BackupManifest): BackupReader;
  close(): Promise<void>;
}

export async function extractBackup(
  request: ExtractRequest,
  onRole: (role: string) => void = () => undefined,
  openFolder: OpenBackupFolder = folderReader,
): Promise<ExtractedRole[]> {
  const source = request.container
    ? await openContainerBackup(request.container)
    : await folderSource(request.backupFolder, openFolder);
  try {
    return await extractFrom(source, request, onRole);
  } finally {
    await source.close();
  }
}

async function extractFrom(
  source: BackupSource,
  request: ExtractRequest,
  onRole: (role: string) => void,
): Promise<ExtractedRole[]> {
  const manifest = parseManifest(source.manifestText, source.manifestFile);
  const key = await authenticatedKey(
    { manifest, folder: request.backupFolder },
    { DecryptionCertPath: request.pfxPath, DecryptionCertPassword: request.pfxPassword },
    '--pfx',
  );
  try {
    const roles = selectedRoles(manifest, request.roleName);
    await mkdir(request.outDir, { recursive: true });
    const reader = source.reader(manifest);
    const extracted: ExtractedRole[] = [];
    for (const role of roles) {
      if (!holdsData(role)) continue;
      onRole(role.Registration.Name);
      const folder = await newRoleFolder(request.outDir, role.Registration.Name);
      // The same single pass as a restore: written beside, and named only once all of it verified.
      await readRole(reader, role, key, (entries) =>
        buildBeside(folder, 'folder', (temp) => writeTree(entries, temp)),
      );
      extracted.push({ RoleName: role.Registration.Name, Entries: role.Entries, Folder: folder });
    }
    await writeFile(path.join(request.outDir, MANIFEST_NAME), source.manifestText);
    return extracted;
  } finally {
    key.fill(0);
  }
}

/** A backup folder on this machine. */
async function folderSource(backupFolder: string, openFolder: OpenBackupFolder): Promise<BackupSource> {
  const manifestFile = path.join(backupFolder, MANIFEST_NAME);
  const manifestText = await readFile(manifestFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new AzsError(
      'BackupNotFound',
      `${manifestFile} cannot be read (${error.code}): --backup must name a backup folder, the one holding ${MANIFEST_NAME}.`,
      {
        parameter: 'backup',
      },
    );
  });
  return {
    manifestFile,
    manifestText,
    reader: (manifest) => openFolder(backupFolder, manifest),
    close: async () => undefined,
  };
}

function selectedRoles(manifest: BackupManifest, roleName: string | undefined): BackupManifest['Roles'] {
  const roles = manifest.Roles.filter(
    (role) => !roleName || role.Registration.Name.toLowerCase() === roleName.toLowerCase(),
  );
  if (roleName && !roles.length) {
    throw new AzsError(
      'RoleNotFound',
      `The backup has no role '${roleName}'; it has ${manifest.Roles.map((role) => role.Registration.Name).join(', ')}.`,
      { parameter: 'role' },
    );
  }
  return roles;
}

/**
 * The backup folder read as the engine reads a store: links and other non-files are refused. A
 * format 4 backup's data is in the repository beside it: `<root>/MASBackup/Repository`, where the
 * backup folder is `<root>/MASBackup/<time>/<id>`.
 */
function folderReader(backupFolder: string, manifest: BackupManifest): BackupReader {
  const folder = path.resolve(backupFolder);
  const reader = readerOf(new LocalFolderStore(path.dirname(folder)), {
    folder: path.basename(folder),
    manifest,
  });
  const root = path.resolve(folder, '..', '..', '..');
  if (
    manifest.FormatVersion >= REPOSITORY_FORMAT_VERSION &&
    path.basename(path.dirname(path.dirname(folder))) !== BACKUP_ROOT
  ) {
    throw new AzsError(
      'InvalidParameter',
      `${folder} is a format ${manifest.FormatVersion} backup, whose data is in the repository of its ${BACKUP_ROOT} folder: give --backup the backup's folder where it is, <store>/${BACKUP_ROOT}/<time>/<id>.`,
      { parameter: 'backup' },
    );
  }
  return { ...reader, repository: new LocalFolderStore(root) };
}

/** `<out>/<RoleName>`, which must not exist yet: extract never mixes a role's data into other files. */
async function newRoleFolder(outDir: string, roleName: string): Promise<string> {
  const folder = path.join(outDir, roleName);
  const existing = await lstat(folder).catch(() => null);
  if (existing) {
    throw new AzsError(
      'InvalidParameter',
      `'${folder}' already exists. Give --out a new or empty folder, or remove '${folder}' first.`,
      { parameter: 'out', target: folder },
    );
  }
  return folder;
}
