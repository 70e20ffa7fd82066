/**
 * Invoke-AzsPruneBackupLocationExternalStore: finds what under MASBackup belongs to no complete
 * backup — folders without a manifest left by failed or killed jobs, temporary upload files, files a
 * manifest does not list, empty timestamp folders, links — and removes it unless it is a dry run. The
 * running job's folder and everything outside MASBackup are never touched; a link is removed as the
 * link, never followed (the store's own rule, src/storage/store.ts). After every backup that
 * completes, the same search finds the uploads of this deployment's failed backups (housekeeping.ts).
 */
import type { BackupManifest } from '../archive/manifest.js';
import {
  EPOCH_NAME,
  INDEX_SUFFIX,
  PACK_SUFFIX,
  REPACK_SUFFIX,
  REPOSITORY_FOLDER_NAME,
  REPOSITORY_ROOT,
  epochFolder,
  indexFolder,
  nameHash,
  packsFolder,
  repacksFolder,
} from '../repository/layout.js';
import { Successions, readRepackRecords } from '../repository/repacks.js';
import type { BackupStore } from '../storage/store.js';
import type { BackupCatalog } from './catalog.js';
import { BACKUP_ROOT, MANIFEST_NAME, TIMESTAMP_FOLDER } from './layout.js';

/** What an epoch's folder holds; anything else in it is an orphan. */
const EPOCH_FOLDERS = new Set(['packs', 'index', 'repacks']);

export async function findOrphans(
  store: BackupStore,
  catalog: BackupCatalog,
  runningBackupId: string | null,
): Promise<string[]> {
  return (await collectOrphans(store, catalog, runningBackupId)).map((orphan) => orphan.path);
}

/** What the repository holds that no complete backup uses (format 4): what retention's deletes freed. */
export async function findRepositoryOrphans(store: BackupStore, catalog: BackupCatalog): Promise<string[]> {
  const manifests = (await catalog.list(store)).map((backup) => backup.manifest);
  return (await repositoryOrphans(store, manifests)).map((orphan) => orphan.path);
}

/**
 * The orphans that are uploads of backups this deployment knows to have failed (`failedBackupIds`:
 * failed, cancelled or cut-short jobs): their folders with no manifest, and timestamp folders that
 * hold nothing else. Nothing another writer may still be filling, nor any part of a complete backup.
 */
export async function findFailedUploads(
  store: BackupStore,
  catalog: BackupCatalog,
  runningBackupId: string | null,
  failedBackupIds: ReadonlySet<string>,
): Promise<string[]> {
  return (await collectOrphans(store, catalog, runningBackupId))
    .filter(
      ({ backupIds }) =>
        backupIds !== null &&
        backupIds.length > 0 &&
        backupIds.every((backupId) => failedBackupIds.has(backupId)),
    )
    .map((orphan) => orphan.path);
}

interface Orphan {
  path: string;
  /** The backup folders the orphan is or holds; null when it is no backup folder (a stray file). */
  backupIds: string[] | null;
}

async function collectOrphans(
  store: BackupStore,
  catalog: BackupCatalog,
  runningBackupId: string | null,
): Promise<Orphan[]> {
  const complete = new Map((await catalog.list(store)).map((backup) => [backup.folder, backup.manifest]));
  const orphans: Orphan[] = [];
  for (const stamp of await store.list(BACKUP_ROOT)) {
    const stampPath = `${BACKUP_ROOT}/${stamp.name}`;
    if (stamp.name === REPOSITORY_FOLDER_NAME && stamp.type === 'directory') {
      // A running backup's packs are referred to by no manifest yet: the repository waits for it.
      if (!runningBackupId) orphans.push(...(await repositoryOrphans(store, [...complete.values()])));
      continue;
    }
    if (stamp.type !== 'directory' || !TIMESTAMP_FOLDER.test(stamp.name)) {
      orphans.push({ path: stampPath, backupIds: null });
      continue;
    }
    const children = await store.list(stampPath);
    const inside: Orphan[] = [];
    let keepsSomething = false;
    for (const child of children) {
      const folder = `${stampPath}/${child.name}`;
      if (child.name === runningBackupId) {
        keepsSomething = true;
        continue;
      }
      const manifest = complete.get(folder);
      if (!manifest) {
        inside.push({ path: folder, backupIds: child.type === 'directory' ? [child.name] : null });
        continue;
      }
      keepsSomething = true;
      const listed = new Set([
        MANIFEST_NAME,
        ...manifest.Roles.flatMap((role) => role.Files.map((file) => file.Path)),
      ]);
      const unlisted = await unlistedFiles(store, folder, listed);
      inside.push(...unlisted.map((path) => ({ path, backupIds: null })));
    }
    // A timestamp folder holding nothing worth keeping goes whole.
    if (keepsSomething) orphans.push(...inside);
    else orphans.push({ path: stampPath, backupIds: backupIdsOf(inside) });
  }
  return orphans;
}

/**
 * What the repository holds that no complete backup uses (format 4): packs no manifest lists (nor a
 * repack record leads to from one, repacks.ts), repack records that lead from no such pack, epochs
 * no manifest belongs to, and anything that is not a pack, an index file or a repack record (an
 * upload cut short). A pack is referred to only through manifests, each of which lists its roles'
 * packs, so this needs no key: records are followed unauthenticated, which can only keep more.
 * Index files stay: a writer only takes chunks from packs that are still stored.
 */
async function repositoryOrphans(store: BackupStore, manifests: BackupManifest[]): Promise<Orphan[]> {
  const listed = new Map<string, Set<string>>();
  for (const manifest of manifests) {
    const { Epoch: epoch } = manifest.Encryption;
    if (!epoch) continue;
    const packs = listed.get(epoch) ?? new Set<string>();
    for (const role of manifest.Roles) for (const pack of role.Content?.Packs ?? []) packs.add(pack);
    listed.set(epoch, packs);
  }
  const orphans: string[] = [];
  for (const epoch of await store.list(REPOSITORY_ROOT)) {
    const packs = listed.get(epoch.name);
    if (epoch.type !== 'directory' || !EPOCH_NAME.test(epoch.name) || !packs) {
      orphans.push(`${REPOSITORY_ROOT}/${epoch.name}`);
      continue;
    }
    const { records } = await readRepackRecords(store, epoch.name);
    const live = new Successions(records).reach(packs);
    const leading = new Set(
      records.filter((record) => record.Old.some((pack) => live.has(pack))).map((record) => record.name),
    );
    orphans.push(
      ...(await unlistedIn(store, packsFolder(epoch.name), (name) =>
        live.has(nameHash(name, PACK_SUFFIX) ?? ''),
      )),
      ...(await unlistedIn(store, indexFolder(epoch.name), (name) => nameHash(name, INDEX_SUFFIX) !== null)),
      ...(await unlistedIn(store, repacksFolder(epoch.name), (name) =>
        leading.has(nameHash(name, REPACK_SUFFIX) ?? ''),
      )),
    );
    for (const entry of await store.list(epochFolder(epoch.name))) {
      if (!EPOCH_FOLDERS.has(entry.name)) orphans.push(`${epochFolder(epoch.name)}/${entry.name}`);
    }
  }
  return orphans.map((path) => ({ path, backupIds: null }));
}

/** The files of `folder` that `keep` refuses, and anything in it that is not a file. */
async function unlistedIn(
  store: BackupStore,
  folder: string,
  keep: (name: string) => boolean,
): Promise<string[]> {
  return (await store.list(folder))
    .filter((entry) => entry.type !== 'file' || !keep(entry.name))
    .map((entry) => `${folder}/${entry.name}`);
}

/** The backup folders a list of orphans is, or null when any of them is something else. */
function backupIdsOf(orphans: Orphan[]): string[] | null {
  const ids: string[] = [];
  for (const { backupIds } of orphans) {
    if (!backupIds) return null;
    ids.push(...backupIds);
  }
  return ids;
}

/**
 * Files and folders inside a complete backup that its manifest does not account for. A link (or
 * FIFO, device…) is never one of a backup's files, even under a listed name: it is listed to go as
 * itself, and never descended into, so nothing outside the store is seen or removed through it.
 */
async function unlistedFiles(
  store: BackupStore,
  folder: string,
  listed: Set<string>,
  prefix = '',
): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await store.list(prefix ? `${folder}/${prefix}` : folder)) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.type === 'directory') {
      const inside = [...listed].some((file) => file.startsWith(`${relative}/`));
      if (inside) found.push(...(await unlistedFiles(store, folder, listed, relative)));
      else found.push(`${folder}/${relative}`);
    } else if (entry.type === 'other' || !listed.has(relative)) {
      found.push(`${folder}/${relative}`);
    }
  }
  return found;
}

/** A store path as the operator sees it: under the configured -Path, in its separator style. */
export function displayPath(store: BackupStore, relative: string): string {
  const separator = store.location.includes('\\') ? '\\' : '/';
  return `${store.location.replace(/[\\/]+$/, '')}${separator}${relative.split('/').join(separator)}`;
}
