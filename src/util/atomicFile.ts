/**
 * Crash-safe file writes: the new content goes to a temporary file beside the target, is flushed to
 * disk, and replaces the target by rename, so a reader (or a daemon restarted after kill -9) sees
 * either the old file or the new one, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, readFile } from 'node:fs/promises';
import path from 'node:path';

export async function writeFileAtomic(
  target: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  const temp = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const handle = await open(temp, 'wx', mode);
  try {
    // The mode given, whatever the process's umask (a file meant for other readers stays readable).
    await handle.chmod(mode);
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temp, target);
  await syncDirectory(path.dirname(target));
}

/** Makes a rename durable: on POSIX the directory entry itself must be flushed. */
export async function syncDirectory(directory: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function writeJsonAtomic(target: string, value: unknown, mode = 0o600): Promise<void> {
  await writeFileAtomic(target, `${JSON.stringify(value, null, 2)}\n`, mode);
}

/** Reads a JSON file, or returns undefined when it does not exist. */
export async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
