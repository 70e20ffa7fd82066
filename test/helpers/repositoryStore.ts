/**
 * Looking at a local-folder store and a role's folder from a test: the files of a tree, the bytes
 * under a folder, and a backup's manifest as stored.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { BackupManifest } from '../../src/archive/manifest.js';
import { backupFolderOf } from './shareWriter.js';

/** Every file under `folder`, by relative path, with its bytes. */
export function treeOf(
  folder: string,
  relative = '',
  files = new Map<string, Buffer>(),
): Map<string, Buffer> {
  for (const entry of readdirSync(path.join(folder, relative), { withFileTypes: true })) {
    const name = path.join(relative, entry.name);
    if (entry.isDirectory()) treeOf(folder, name, files);
    else files.set(name, readFileSync(path.join(folder, name)));
  }
  return files;
}

/** Bytes of every file under `folder`. */
export function bytesUnder(folder: string): number {
  let total = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) total += statSync(path.join(entry.parentPath, entry.name)).size;
  return total;
}

/** A backup's folder on a local-folder store, and its manifest as stored there. */
export function manifestOf(store: string, backupId: string): { folder: string; manifest: BackupManifest } {
  const folder = backupFolderOf(store, backupId);
  return { folder, manifest: JSON.parse(readFileSync(path.join(folder, 'BackupInfo.json'), 'utf8')) };
}
