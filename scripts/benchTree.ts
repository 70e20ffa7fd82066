/**
 * Trees on disk as the bench sees them: what each entry is, how many bytes the files hold and how
 * many a folder takes on disk, and timing.
 */
import { lstatSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** A file's size, or what else an entry is. */
export type TreeEntry = number | 'folder' | 'other';

/** Every entry under `folder`, by path relative to it: what a restore must leave as it found it. */
export function listTree(
  folder: string,
  relative = '',
  entries = new Map<string, TreeEntry>(),
): Map<string, TreeEntry> {
  for (const entry of readdirSync(path.join(folder, relative), { withFileTypes: true })) {
    const name = path.join(relative, entry.name);
    if (entry.isDirectory()) {
      entries.set(name, 'folder');
      listTree(folder, name, entries);
    } else entries.set(name, entry.isFile() ? statSync(path.join(folder, name)).size : 'other');
  }
  return entries;
}

export function treeBytes(folder: string): number {
  let total = 0;
  for (const entry of listTree(folder).values()) if (typeof entry === 'number') total += entry;
  return total;
}

/**
 * The bytes every file under `folder` takes on disk (allocated blocks, as `du --block-size=1` counts
 * them, folders themselves left out): what a store or repository costs its owner.
 */
export function bytesOnDisk(folder: string): number {
  let total = 0;
  for (const [name, entry] of listTree(folder))
    if (typeof entry === 'number') total += lstatSync(path.join(folder, name)).blocks * 512;
  return total;
}

/** The paths one listing has and the other has not, or has otherwise. */
export function treeDifferences(expected: Map<string, TreeEntry>, actual: Map<string, TreeEntry>): string[] {
  const names = new Set([...expected.keys(), ...actual.keys()]);
  return [...names].filter((name) => expected.get(name) !== actual.get(name));
}

/** Seconds `action` takes. */
export async function timed(action: () => unknown): Promise<number> {
  const started = process.hrtime.bigint();
  await action();
  return Number(process.hrtime.bigint() - started) / 1e9;
}
