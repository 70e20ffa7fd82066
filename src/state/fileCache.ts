/**
 * file-cache/<role>.json: format 4's file cache of one role (src/repository/fileCache.ts says what
 * it is for), kept for the epoch it was made in. Losing it, or a file that cannot be read, costs
 * one backup's speed, never correctness: the repository checks every chunk it reuses.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import type { StateLayout } from './layout.js';

/** One large file: its identity and header hash when read, and its record's chunks (id hex, length). */
export interface SavedFileRecord {
  identity: string;
  record: string;
  chunks: [string, number][];
}

interface SavedFileCache {
  Epoch: string;
  Files: Record<string, SavedFileRecord>;
}

export async function readFileCache(
  state: StateLayout,
  roleName: string,
  epoch: string,
): Promise<Map<string, SavedFileRecord>> {
  const saved = await readJsonIfExists<SavedFileCache>(state.fileCacheFile(roleName)).catch(() => undefined);
  if (saved?.Epoch !== epoch || typeof saved.Files !== 'object' || saved.Files === null) return new Map();
  return new Map(Object.entries(saved.Files));
}

export async function writeFileCache(
  state: StateLayout,
  roleName: string,
  epoch: string,
  files: Map<string, SavedFileRecord>,
): Promise<void> {
  const file = state.fileCacheFile(roleName);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeJsonAtomic(file, { Epoch: epoch, Files: Object.fromEntries(files) } satisfies SavedFileCache);
}
