/**
 * Opening a path that must be a plain file, safely: without blocking when it is a FIFO (O_NONBLOCK;
 * a FIFO with no writer would hold the open forever), and refusing anything that is not a regular
 * file (a device such as /dev/zero never ends; a folder, socket or FIFO has no content to read) from
 * the descriptor's own fstat, so nothing can be swapped in between the check and the read.
 * O_NONBLOCK changes nothing for a regular file. Windows has neither flag (FIFOs and devices have no
 * path there that fs.open accepts); the fstat check is the same.
 */
import { type Stats, constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/** The path names something other than a regular file; `kind` says what, in words. */
export class NotARegularFile extends Error {
  constructor(
    readonly file: string,
    readonly kind: string,
  ) {
    super(`'${file}' is ${kind}, not a regular file.`);
    this.name = 'NotARegularFile';
  }
}

/** The file holds more bytes than the caller accepts. */
export class FileTooLarge extends Error {
  constructor(
    readonly file: string,
    readonly limit: number,
  ) {
    super(`'${file}' holds more than ${limit} bytes.`);
    this.name = 'FileTooLarge';
  }
}

/** What a non-regular file is, for messages. */
export function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'a regular file';
}

/**
 * Opens a regular file for reading and returns its handle with the descriptor's fstat. With
 * `followLinks: false` a link as the last component is refused too (O_NOFOLLOW), where the platform
 * has that flag. Fails with NotARegularFile, or the file system's own error (ENOENT, EACCES…).
 */
export async function openRegularFile(
  file: string,
  options: { followLinks: boolean } = { followLinks: true },
): Promise<{ handle: FileHandle; stats: Stats }> {
  const flags = constants.O_RDONLY | O_NONBLOCK | (options.followLinks ? 0 : O_NOFOLLOW);
  let handle: FileHandle;
  try {
    handle = await open(file, flags);
  } catch (error) {
    // O_NOFOLLOW on a link fails with ELOOP (EMLINK on some BSDs).
    const code = (error as NodeJS.ErrnoException).code;
    if (!options.followLinks && (code === 'ELOOP' || code === 'EMLINK'))
      throw new NotARegularFile(file, 'a symbolic link');
    throw error;
  }
  const stats = await handle.stat().catch(async (error: unknown) => {
    await handle.close();
    throw error;
  });
  if (!stats.isFile()) {
    await handle.close();
    throw new NotARegularFile(file, kindOf(stats));
  }
  return { handle, stats };
}

/**
 * The whole content of a small regular file, never more than `limit` bytes in memory: a file that
 * says it is larger, or grows past the limit while it is read, fails with FileTooLarge.
 */
export async function readBoundedFile(file: string, limit: number): Promise<Buffer> {
  const { handle, stats } = await openRegularFile(file);
  try {
    if (stats.size > limit) throw new FileTooLarge(file, limit);
    // One byte more than the limit tells a file that grew past it from one that ends exactly there.
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) return buffer.subarray(0, length);
      length += bytesRead;
      if (length > limit) throw new FileTooLarge(file, limit);
    }
  } finally {
    await handle.close();
  }
}
