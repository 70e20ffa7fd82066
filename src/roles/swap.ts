/**
 * Write beside, then swap: a restore builds the new data under a sibling name and only then moves it
 * into place, so a failure while building leaves the current data untouched.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** `<target>.<purpose>-<random>`: beside the target, so the final rename never crosses a file system. */
export function siblingPath(target: string, purpose: 'restore' | 'old'): string {
  return `${target}.${purpose}-${randomBytes(6).toString('hex')}`;
}

/** Creates the target's parent folders (a fresh deployment has none yet). */
export async function ensureParent(target: string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
}

/**
 * Runs `build(temp)` on a fresh sibling path, then puts `temp` (a folder, or a file) in place of
 * `target`. When `build` fails, the sibling is removed and the target is not touched.
 */
export async function buildBeside(
  target: string,
  kind: 'folder' | 'file',
  build: (temp: string) => Promise<void>,
): Promise<void> {
  await ensureParent(target);
  const temp = siblingPath(target, 'restore');
  try {
    await build(temp);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  if (kind === 'folder') await replaceFolder(temp, target);
  else await replaceFile(temp, target);
}

/** A file is renamed over its target in one step: readers see the old file or the new one. */
async function replaceFile(temp: string, target: string): Promise<void> {
  try {
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncFolder(path.dirname(target));
}

/**
 * Folders cannot be renamed over a non-empty folder, so the swap is two renames: current → old,
 * new → current; if the second fails the first is undone. The old tree is removed afterwards.
 */
async function replaceFolder(temp: string, target: string): Promise<void> {
  const old = siblingPath(target, 'old');
  const hadCurrent = await renameIfExists(target, old);
  try {
    await rename(temp, target);
  } catch (error) {
    if (hadCurrent) await rename(old, target);
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  await syncFolder(path.dirname(target));
  if (hadCurrent) await rm(old, { recursive: true, force: true });
}

async function renameIfExists(from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Makes renames inside `folder` durable (POSIX needs the folder itself flushed). */
export async function syncFolder(folder: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
