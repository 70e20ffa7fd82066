/**
 * The backups on the store: the store is the source of truth (a backup exists exactly when its
 * manifest does); what is read is cached by folder, a cache that any listing can rebuild.
 */
import { parseManifest, type BackupManifest } from '../archive/manifest.js';
import { AzsError, isAzsError } from '../protocol/errors.js';
import { BackupRecord, type Backup } from '../protocol/objects.js';
import type { BackupStore } from '../storage/store.js';
import type { Logger } from '../util/log.js';
import { hasWildcard, wildcardToRegExp } from '../util/wildcard.js';
import { BACKUP_ROOT, GUID, MANIFEST_NAME, TIMESTAMP_FOLDER } from './layout.js';

export interface StoredBackup {
  /** The backup's folder relative to the store root. */
  folder: string;
  manifest: BackupManifest;
}

const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

export class BackupCatalog {
  private readonly cache = new Map<string, { size: number; modified: number; manifest: BackupManifest }>();

  constructor(private readonly log: Logger) {}

  /** Every complete backup on the store, newest first. Folders without a valid manifest are not backups. */
  async list(store: BackupStore): Promise<StoredBackup[]> {
    const found: StoredBackup[] = [];
    for (const stamp of await store.list(BACKUP_ROOT)) {
      if (stamp.type !== 'directory' || !TIMESTAMP_FOLDER.test(stamp.name)) continue;
      for (const entry of await store.list(`${BACKUP_ROOT}/${stamp.name}`)) {
        if (entry.type !== 'directory' || !GUID.test(entry.name)) continue;
        const backup = await this.read(store, `${BACKUP_ROOT}/${stamp.name}/${entry.name}`);
        if (backup) found.push(backup);
      }
    }
    return found.sort((a, b) => b.manifest.CreatedDateTime.localeCompare(a.manifest.CreatedDateTime));
  }

  /** The one backup a -Name (id, location/id) names; BackupNotFound otherwise. */
  async get(store: BackupStore, name: string): Promise<StoredBackup> {
    const matches = (await this.list(store)).filter((backup) => matchesName(backup.manifest, name));
    if (matches.length === 1) return matches[0]!;
    throw new AzsError(
      'BackupNotFound',
      matches.length
        ? `-Name '${name}' matches ${matches.length} backups; give one backup id.`
        : `No complete backup named '${name}' is on the store. Get-AzsBackup lists the backups there.`,
      { parameter: 'Name', target: name },
    );
  }

  forget(folder: string): void {
    this.cache.delete(folder);
  }

  private async read(store: BackupStore, folder: string): Promise<StoredBackup | null> {
    const file = `${folder}/${MANIFEST_NAME}`;
    const info = await store.stat(file);
    if (!info || info.type !== 'file') return null;
    const cached = this.cache.get(folder);
    if (cached && cached.size === info.size && cached.modified === info.modified.getTime())
      return { folder, manifest: cached.manifest };
    try {
      if (info.size > MAX_MANIFEST_BYTES)
        throw new AzsError('BackupCorrupt', `${file} is ${info.size} bytes, more than a manifest can be.`);
      const manifest = parseManifest(await readText(store, file), file);
      if (!folder.endsWith(`/${manifest.BackupId}`))
        throw new AzsError('BackupCorrupt', `${file} names backup ${manifest.BackupId}, not its folder's.`);
      this.cache.set(folder, { size: info.size, modified: info.modified.getTime(), manifest });
      return { folder, manifest };
    } catch (error) {
      if (!isAzsError(error, 'BackupCorrupt')) throw error;
      this.log.warn('ignoring a backup folder whose manifest is not valid', { folder, error: error.message });
      return null;
    }
  }
}

async function readText(store: BackupStore, file: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.readFile(file)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function matchesName(backup: Pick<Backup, 'BackupId' | 'Name'>, name: string): boolean {
  const candidates = [backup.BackupId, backup.Name];
  if (hasWildcard(name)) {
    const pattern = wildcardToRegExp(name);
    return candidates.some((candidate) => pattern.test(candidate));
  }
  return candidates.some((candidate) => candidate.toLowerCase() === name.toLowerCase());
}

export const BACKUP_RESOURCE_TYPE = 'Microsoft.Backup.Admin/backupLocations/backups';

/** The Backup object of a record: the resource fields Azure Stack shows are derived from it. */
export function asResource(record: BackupRecord): Backup {
  const location = record.Name.slice(0, record.Name.indexOf('/'));
  return {
    ...record,
    Id: `/providers/Microsoft.Backup.Admin/backupLocations/${location}/backups/${record.BackupId}`,
    Type: BACKUP_RESOURCE_TYPE,
    Location: location,
    Tags: {},
    OemVersion: null,
  };
}

/** The Backup object of a manifest: the manifest holds the Backup's fields and more. */
export function backupOf(manifest: BackupManifest): Backup {
  const fields = Object.keys(BackupRecord.properties) as Array<keyof BackupRecord>;
  return asResource(Object.fromEntries(fields.map((field) => [field, manifest[field]])) as BackupRecord);
}
