/**
 * Reads a folder tree as archive entries, in a deterministic order: names sorted, every folder
 * before what it holds. Symbolic links are kept as links (never followed); sockets, FIFOs and
 * devices are runtime objects, not data, and are left out.
 *
 * A file's header and its content come from ONE open descriptor: the file is opened when its entry
 * is made, the header takes its size from fstat at that moment, and the content stream reads
 * exactly that many bytes from the same descriptor. A file that grows while it is copied is cut at
 * the recorded size; one that shrinks fails the stream (padding would store bytes that never
 * existed). The descriptor is closed when the stream ends, or — if the consumer never asked for the
 * content — when the consumer asks for the next entry (or stops iterating).
 */
import { constants } from 'node:fs';
import { lstat, open, readdir, readlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ArchiveEntry } from '../archive/entry.js';
import { AzsError } from '../protocol/errors.js';

const READ_CHUNK = 1024 * 1024;
/** O_NOFOLLOW: a file swapped for a link after lstat is not followed; O_NONBLOCK: a FIFO never blocks. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export async function* walkTree(root: string): AsyncGenerator<ArchiveEntry> {
  yield* walkFolder(root, '');
}

async function* walkFolder(folder: string, relative: string): AsyncGenerator<ArchiveEntry> {
  for (const name of await sortedNames(folder)) {
    const absolute = path.join(folder, name);
    const entryPath = relative ? `${relative}/${name}` : name;
    const stats = await lstat(absolute);
    if (stats.isDirectory()) {
      yield {
        path: entryPath,
        type: 'directory',
        mode: permissions(stats.mode),
        mtimeMs: stats.mtimeMs,
        size: 0,
      };
      yield* walkFolder(absolute, entryPath);
    } else if (stats.isSymbolicLink()) {
      const linkTarget = await readlink(absolute);
      yield {
        path: entryPath,
        type: 'symlink',
        mode: permissions(stats.mode),
        mtimeMs: stats.mtimeMs,
        size: 0,
        linkTarget,
      };
    } else if (stats.isFile()) {
      yield* fileEntry(absolute, entryPath);
    }
  }
}

/** Folder names in sorted order; a name that is not valid UTF-8 cannot be stored faithfully, so it fails. */
async function sortedNames(folder: string): Promise<string[]> {
  const raw = await readdir(folder, { encoding: 'buffer' });
  const names = raw.map((bytes) => {
    const name = bytes.toString('utf8');
    if (!Buffer.from(name, 'utf8').equals(bytes)) {
      throw new AzsError(
        'RoleFailed',
        `The name '${name}' in '${folder}' is not valid UTF-8 and cannot be backed up faithfully. Rename it with UTF-8 characters.`,
        { target: path.join(folder, name) },
      );
    }
    return name;
  });
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * One file as one entry (see the module comment for the descriptor's life). Yields nothing when the
 * path stopped being a regular file since it was listed.
 */
export async function* fileEntry(absolute: string, entryPath: string): AsyncGenerator<ArchiveEntry> {
  const handle = await openRegularFile(absolute);
  if (!handle) return;
  let handedOver = false;
  try {
    const stats = await handle.stat();
    yield {
      path: entryPath,
      type: 'file',
      mode: permissions(stats.mode),
      mtimeMs: stats.mtimeMs,
      size: stats.size,
      content: () => {
        if (handedOver) throw new Error(`The content of '${entryPath}' was already read.`);
        handedOver = true;
        return Readable.from(readExactly(handle, stats.size, absolute), { objectMode: false });
      },
    };
  } finally {
    if (!handedOver) await handle.close();
  }
}

async function openRegularFile(absolute: string): Promise<FileHandle | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(absolute, OPEN_FLAGS);
  } catch (error) {
    // Deleted or replaced by a link since it was listed: the tree changed under us; take it as it is now.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') return undefined;
    throw error;
  }
  if ((await handle.stat()).isFile()) return handle;
  await handle.close();
  return undefined;
}

/** Exactly `size` bytes from the start of the file, then the descriptor is closed. */
async function* readExactly(handle: FileHandle, size: number, absolute: string): AsyncGenerator<Buffer> {
  try {
    let position = 0;
    while (position < size) {
      const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, size - position));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) throw shrankError(absolute, size, position);
      position += bytesRead;
      yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

function shrankError(absolute: string, size: number, available: number): AzsError {
  return new AzsError(
    'RoleFailed',
    `'${absolute}' shrank from ${size} to ${available} bytes while it was being backed up. ` +
      'Stop the service that rewrites it during backups (or back it up with a provider that snapshots it), then run the backup again.',
    { target: absolute },
  );
}

function permissions(mode: number): number {
  return mode & 0o7777;
}
