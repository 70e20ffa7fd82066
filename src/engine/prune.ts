/**
 * Invoke-AzsPruneBackupLocationExternalStore: finds what under MASBackup belongs to no complete
 * backup — folders without a manifest left by failed or killed jobs, temporary upload files, files a
 * manifest does not list, empty timestamp folders, links — and removes it unless it is a dry run. The
 * running job's folder and everything outside MASBackup are never touched; a link is removed as the
 * link, never followed (the store's own rule, src/storage/store.ts).
 */
import type { BackupStore } from '../storage/store.js';
import type { BackupCatalog } from './catalog.js';
import { BACKUP_ROOT, MANIFEST_NAME, TIMESTAMP_FOLDER } from './layout.js';

export async function findOrphans(
  store: BackupStore,
  catalog: BackupCatalog,
  runningBackupId: string | null,
): Promise<string[]> {
  const complete = new Map((await catalog.list(store)).map((backup) => [backup.folder, backup.manifest]));
  const orphans: string[] = [];
  for (const stamp of await store.list(BACKUP_ROOT)) {
    const stampPath = `${BACKUP_ROOT}/${stamp.name}`;
    if (stamp.type !== 'directory' || !TIMESTAMP_FOLDER.test(stamp.name)) {
      orphans.push(stampPath);
      continue;
    }
    const children = await store.list(stampPath);
    const inside: string[] = [];
    let keepsSomething = false;
    for (const child of children) {
      const folder = `${stampPath}/${child.name}`;
      if (child.name === runningBackupId) {
        keepsSomething = true;
        continue;
      }
      const manifest = complete.get(folder);
      if (!manifest) {
        inside.push(folder);
        continue;
      }
      keepsSomething = true;
      const listed = new Set([
        MANIFEST_NAME,
        ...manifest.Roles.flatMap((role) => role.Files.map((file) => file.Path)),
      ]);
      inside.push(...(await unlistedFiles(store, folder, listed)));
    }
    // A timestamp folder holding nothing worth keeping goes whole.
    if (keepsSomething) orphans.push(...inside);
    else orphans.push(stampPath);
  }
  return orphans;
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
