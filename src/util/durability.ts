/**
 * Making a freshly written tree durable before it is swapped in. kill -9 needs nothing (the page
 * cache outlives the process); power loss after the swap must not leave empty or short files.
 *
 * Node has no syncfs(2), so on Linux (and other POSIX systems) the tree is flushed once, after every
 * file is written, by `sync -f <folder>` (GNU coreutils 8.24 and later): one call commits every file,
 * folder entry and metadata change of that file system. Measured with scripts/measure-restore.ts it
 * beat an fsync per file, even eight at a time (docs/benchmarks.md, "Restore: where the time goes"):
 * the disk gets all the data at once, and the journal commits once instead of once per file. It also
 * flushes whatever else is waiting on that file system, which on a busy host costs more. A `sync`
 * without -f support falls back to flushing every file system. Windows has no such command: each file
 * is flushed as it is written (FlushFileBuffers), eight at a time (filesNeedOwnFlush); only the Linux
 * side could be tested.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** True where flushFileSystem cannot flush, so each written file must be flushed on its own. */
export function filesNeedOwnFlush(): boolean {
  return process.platform === 'win32';
}

/** Returns once everything written under `folder` is on disk (nothing to do where filesNeedOwnFlush). */
export async function flushFileSystem(folder: string): Promise<void> {
  if (filesNeedOwnFlush()) return;
  try {
    await run('sync', ['-f', folder]);
  } catch {
    await run('sync', []);
  }
}
