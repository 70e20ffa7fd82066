/**
 * Looking at a local-folder store and a role's folder from a test: the files of a tree, the bytes
 * under a folder, a backup's manifest as stored, and a format 4 role's files as a reader gives them.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ByteReader } from '../../src/archive/byteReader.js';
import type { BackupManifest } from '../../src/archive/manifest.js';
import { decodeRecords } from '../../src/archive/records.js';
import type { RepositoryReader } from '../../src/repository/reader.js';
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

/** The files of the role whose list is `list`, by path, with their bytes, as `reader` reads them. */
export async function roleFiles(reader: RepositoryReader, list: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for await (const entry of decodeRecords(new ByteReader(reader.roleStream(list)), 'test', () => false)) {
    const parts: Buffer[] = [];
    for await (const part of entry.content ?? []) parts.push(Buffer.from(part));
    if (entry.type === 'file') files.set(entry.path, Buffer.concat(parts));
  }
  return files;
}
