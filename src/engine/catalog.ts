/**
 * The backups on the store: the store is the source of truth (a backup exists exactly when its
 * manifest does); what is read is cached by folder, a cache that any listing can rebuild.
 */
import { createHash } from 'node:crypto';
import { MAX_MANIFEST_BYTES, parseManifest, type BackupManifest } from '../archive/manifest.js';
import { AzsError, isAzsError } from '../protocol/errors.js';
import { BackupRecord, type Backup } from '../protocol/objects.js';
import { ManifestLedger } from '../state/manifestLedger.js';
import type { BackupStore } from '../storage/store.js';
import type { Logger } from '../util/log.js';
import { hasWildcard, wildcardToRegExp } from '../util/wildcard.js';
import { STORE_PATH_REMEDIATION } from './alertRules.js';
import { BACKUP_ROOT, GUID, MANIFEST_NAME, TIMESTAMP_FOLDER, timestampFolder } from './layout.js';

export interface StoredBackup {
  /** The backup's folder relative to the store root. */
  folder: string;
  manifest: BackupManifest;
  /** SHA-256 of the manifest's bytes as read. */
  manifestSha256: string;
  /** Whether this deployment wrote exactly this manifest in this folder (its ledger says so). */
  isKnown: boolean;
}

type ReadManifest = Omit<StoredBackup, 'isKnown'>;

/** What one manifest file was found to be, valid (the backup) or not (null), by size and mtime. */
interface Verdict {
  size: number;
  modified: number;
  backup: ReadManifest | null;
}

export class BackupCatalog {
  private readonly cache = new Map<string, Verdict>();

  constructor(
    private readonly log: Logger,
    private readonly ledger: ManifestLedger,
  ) {}

  /**
   * Every complete backup on the store, newest first. Folders without a valid manifest are not
   * backups. A store whose root is missing fails (PathNotFound): "no backups" would be a wrong answer.
   */
  async list(store: BackupStore): Promise<StoredBackup[]> {
    const found: ReadManifest[] = [];
    const stamps = await store.list(BACKUP_ROOT);
    // A missing root lists as empty too; only then is the root worth one more request.
    if (stamps.length === 0) await checkRootForListing(store);
    for (const stamp of stamps) {
      if (stamp.type !== 'directory' || !TIMESTAMP_FOLDER.test(stamp.name)) continue;
      for (const entry of await store.list(`${BACKUP_ROOT}/${stamp.name}`)) {
        if (entry.type !== 'directory' || !GUID.test(entry.name)) continue;
        const backup = await this.read(store, `${BACKUP_ROOT}/${stamp.name}/${entry.name}`);
        if (backup) found.push(backup);
      }
    }
    const ledger = await this.ledger.read();
    return found
      .map((backup) => ({
        ...backup,
        isKnown: ManifestLedger.matches(
          ledger.get(backup.manifest.BackupId),
          backup.folder,
          backup.manifestSha256,
        ),
      }))
      .sort((a, b) => b.manifest.CreatedDateTime.localeCompare(a.manifest.CreatedDateTime));
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

  /**
   * The backup in `folder`, or null when its manifest is missing or not valid. Either verdict is kept
   * while the file's size and mtime stay the same, so a listing reads each manifest once.
   */
  private async read(store: BackupStore, folder: string): Promise<ReadManifest | null> {
    const file = `${folder}/${MANIFEST_NAME}`;
    const info = await store.stat(file);
    if (!info || info.type !== 'file') return null;
    const cached = this.cache.get(folder);
    if (cached && cached.size === info.size && cached.modified === info.modified.getTime())
      return cached.backup;
    let backup: ReadManifest | null = null;
    try {
      backup = await readManifest(store, folder, file, info.size);
    } catch (error) {
      if (!isAzsError(error, 'BackupCorrupt')) throw error;
      this.log.warn('ignoring a backup folder whose manifest is not valid', { folder, error: error.message });
    }
    this.cache.set(folder, { size: info.size, modified: info.modified.getTime(), backup });
    return backup;
  }
}

/** The store's root exists; otherwise PathNotFound that says the backups may still be there. */
async function checkRootForListing(store: BackupStore): Promise<void> {
  try {
    await store.checkRoot();
  } catch (error) {
    if (!isAzsError(error, 'PathNotFound')) throw error;
    throw new AzsError(
      'PathNotFound',
      `Cannot list the backups: ${error.message} This does not mean there are no backups. ${STORE_PATH_REMEDIATION}`,
      { parameter: error.parameter ?? 'Path', target: error.target ?? store.location, cause: error },
    );
  }
}

/** Reads, checks and hashes one manifest; BackupCorrupt when it is not this folder's valid manifest. */
async function readManifest(
  store: BackupStore,
  folder: string,
  file: string,
  size: number,
): Promise<ReadManifest> {
  if (size > MAX_MANIFEST_BYTES)
    throw new AzsError('BackupCorrupt', `${file} is ${size} bytes, more than a manifest can be.`);
  const bytes = await readManifestBytes(store, file);
  const manifest = parseManifest(bytes.toString('utf8'), file);
  if (!folder.endsWith(`/${manifest.BackupId}`))
    throw new AzsError('BackupCorrupt', `${file} names backup ${manifest.BackupId}, not its folder's.`);
  // An old backup copied under a newer folder name would be listed as newer than it is.
  const expected = `${BACKUP_ROOT}/${timestampFolder(new Date(manifest.CreatedDateTime))}/${manifest.BackupId}`;
  if (folder !== expected)
    throw new AzsError(
      'BackupCorrupt',
      `${file} was created at ${manifest.CreatedDateTime}, so its folder is ${expected}, not ${folder}.`,
    );
  return { folder, manifest, manifestSha256: createHash('sha256').update(bytes).digest('hex') };
}

/** A manifest's bytes, never more than a manifest can be (BackupCorrupt beyond). */
export async function readManifestBytes(store: BackupStore, file: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of await store.readFile(file)) {
    total += (chunk as Buffer).length;
    // The file may have grown since it was measured: never hold more than a manifest can be.
    if (total > MAX_MANIFEST_BYTES)
      throw new AzsError('BackupCorrupt', `${file} is more than ${MAX_MANIFEST_BYTES} bytes long.`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
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

/**
 * The Backup object of a record: the resource fields Azure Stack shows are derived from it.
 * `isKnown`: whether this deployment wrote it (a running or just finished backup always is).
 */
export function asResource(record: BackupRecord, isKnown = true): Backup {
  const location = record.Name.slice(0, record.Name.indexOf('/'));
  return {
    ...record,
    IsKnownToDeployment: isKnown,
    Id: `/providers/Microsoft.Backup.Admin/backupLocations/${location}/backups/${record.BackupId}`,
    Type: BACKUP_RESOURCE_TYPE,
    Location: location,
    Tags: {},
    OemVersion: null,
  };
}

/** The Backup object of a stored backup: its manifest holds the Backup's fields and more. */
export function backupOf({ manifest, isKnown }: StoredBackup): Backup {
  const fields = Object.keys(BackupRecord.properties) as Array<keyof BackupRecord>;
  return asResource(
    Object.fromEntries(fields.map((field) => [field, manifest[field]])) as BackupRecord,
    isKnown,
  );
}
