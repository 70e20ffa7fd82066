/**
 * Reads a folder tree as archive entries, in a deterministic order: names sorted, every folder
 * before what it holds. Symbolic links are kept as links (never followed); sockets, FIFOs and
 * devices are runtime objects, not data, and are left out.
 *
 * A file's header and its content come from ONE open descriptor (opened with O_NOFOLLOW, so a file
 * swapped for a link after it was listed is not followed, and O_NONBLOCK, so a FIFO never blocks):
 * the header takes its size from that descriptor's fstat, and the content is exactly that many bytes
 * read from the same descriptor. A file that grows while it is copied is cut at the recorded size;
 * one that shrinks fails (padding would store bytes that never existed).
 *
 * Speed: infrastructure roles hold many small JSON/XML files, and a promise round trip through
 * libuv's thread pool for each lstat, open, fstat, read and close costs about 0.3 ms per file. The
 * walk therefore makes its system calls synchronously — the listing says what each name is, so a
 * plain file needs open, one fstat, one read and close — in short slices (SLICE_FILES files or
 * SLICE_BYTES bytes) after which the event loop gets a turn. A file of at most WHOLE_READ_LIMIT bytes
 * is read whole the moment it is opened and its descriptor closed at once: its content is a ready
 * buffer, so memory holds one such file at a time. A larger file keeps its descriptor and streams its
 * content; that descriptor is closed when the stream ends or is destroyed, or — if the consumer never
 * asked for the content — when the consumer asks for the next entry (or stops iterating). Measured
 * with scripts/measure-walker.ts.
 */
import {
  type Dirent,
  type Stats,
  closeSync,
  constants,
  createReadStream,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  readdirSync,
  readlinkSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { Readable, Transform, pipeline } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ArchiveEntry, EntryHeader } from '../archive/entry.js';
import { AzsError } from '../protocol/errors.js';

/** Files up to this size are read in one call when opened; larger ones stream. */
export const WHOLE_READ_LIMIT = 64 * 1024;
const READ_CHUNK = 1024 * 1024;
/** The event loop gets a turn after this many entries or bytes read synchronously. */
const SLICE_FILES = 64;
const SLICE_BYTES = 1024 * 1024;
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** What the synchronous scan found: an entry whose content (if any) is in memory, or a large open file. */
type Scanned =
  | { header: EntryHeader; data?: Buffer; changed?: boolean }
  | { header: EntryHeader; fd: number; absolute: string };

export async function* walkTree(root: string): AsyncGenerator<ArchiveEntry> {
  yield* paced(scanFolder(root, ''));
}

/**
 * One file as one entry (see the module comment for the descriptor's life). Yields nothing when the
 * path is gone or is a folder, FIFO or device; a link in its place is yielded as a link, not followed.
 */
export async function* fileEntry(absolute: string, entryPath: string): AsyncGenerator<ArchiveEntry> {
  yield* paced(scanFile(absolute, entryPath));
}

/** Hands out what `scan` finds, giving the event loop a turn after every slice of synchronous work. */
async function* paced(scan: Generator<Scanned>): AsyncGenerator<ArchiveEntry> {
  let entries = 0;
  let bytes = 0;
  for (const item of scan) {
    if ('fd' in item) {
      yield* streamedFile(item.header, item.fd, item.absolute);
    } else {
      const { data, changed } = item;
      yield data
        ? {
            ...item.header,
            content: () => Readable.from([data], { objectMode: false }),
            changedDuringCopy: () => changed === true,
          }
        : item.header;
      bytes += item.header.size;
    }
    entries += 1;
    if (entries >= SLICE_FILES || bytes >= SLICE_BYTES) {
      await nextTurn();
      entries = 0;
      bytes = 0;
    }
  }
}

function* scanFolder(folder: string, relative: string): Generator<Scanned> {
  for (const { name, dirent } of sortedEntries(folder)) {
    const absolute = path.join(folder, name);
    const entryPath = relative ? `${relative}/${name}` : name;
    if (dirent.isFile()) yield* scanFile(absolute, entryPath);
    else if (!isRuntimeObject(dirent)) yield* scanByLstat(absolute, entryPath);
  }
}

/** Folders, links, and names whose type the listing did not give (some file systems do not). */
function* scanByLstat(absolute: string, entryPath: string): Generator<Scanned> {
  const stats = lstatSync(absolute, { throwIfNoEntry: false });
  if (!stats) return; // deleted since it was listed
  if (stats.isDirectory()) {
    yield { header: header(entryPath, 'directory', stats, 0) };
    yield* scanFolder(absolute, entryPath);
  } else if (stats.isSymbolicLink()) {
    yield { header: { ...header(entryPath, 'symlink', stats, 0), linkTarget: readlinkSync(absolute) } };
  } else if (stats.isFile()) {
    yield* scanFile(absolute, entryPath);
  }
}

function* scanFile(absolute: string, entryPath: string): Generator<Scanned> {
  let fd: number;
  try {
    fd = openSync(absolute, OPEN_FLAGS);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return; // deleted since it was listed
    if (code === 'ELOOP') return yield* scanLink(absolute, entryPath); // replaced by a link: keep the link
    throw error;
  }
  let stats: Stats;
  try {
    stats = fstatSync(fd);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  if (!stats.isFile()) {
    closeSync(fd); // replaced by a folder or FIFO since it was listed: not followed into
    return;
  }
  const fileHeader = header(entryPath, 'file', stats, stats.size);
  if (stats.size > WHOLE_READ_LIMIT) {
    yield { header: fileHeader, fd, absolute }; // the descriptor now belongs to streamedFile
    return;
  }
  let data: Buffer;
  let changed: boolean;
  try {
    data = readWhole(fd, stats.size, absolute);
    changed = changedSince(fileHeader, fstatSync(fd));
  } finally {
    closeSync(fd);
  }
  yield { header: fileHeader, data, changed };
}

function* scanLink(absolute: string, entryPath: string): Generator<Scanned> {
  const stats = lstatSync(absolute, { throwIfNoEntry: false });
  if (!stats?.isSymbolicLink()) return;
  yield { header: { ...header(entryPath, 'symlink', stats, 0), linkTarget: readlinkSync(absolute) } };
}

/** Exactly `size` bytes from the start of the file; fewer fails (the file shrank since its fstat). */
function readWhole(fd: number, size: number, absolute: string): Buffer {
  const data = Buffer.allocUnsafe(size);
  let position = 0;
  while (position < size) {
    const bytesRead = readSync(fd, data, position, size - position, position);
    if (bytesRead === 0) throw shrankError(absolute, size, position);
    position += bytesRead;
  }
  return data;
}

/** A large file's entry; its descriptor is closed by the content stream, or here if nobody asks for it. */
async function* streamedFile(
  fileHeader: EntryHeader,
  fd: number,
  absolute: string,
): AsyncGenerator<ArchiveEntry> {
  let handedOver = false;
  let changed = false;
  try {
    yield {
      ...fileHeader,
      content: () => {
        if (handedOver) throw new Error(`The content of '${fileHeader.path}' was already read.`);
        handedOver = true;
        return readExactly(fd, fileHeader.size, absolute, () => {
          changed = changedSince(fileHeader, statSync(absolute, { throwIfNoEntry: false }));
        });
      },
      changedDuringCopy: () => changed,
    };
  } finally {
    if (!handedOver) closeSync(fd);
  }
}

/**
 * Exactly `size` bytes of the open file, streamed. Node's ReadStream closes the descriptor when it
 * ends or is destroyed (after any read in flight); the length check turns a short file into an error.
 */
function readExactly(fd: number, size: number, absolute: string, onRead: () => void): Readable {
  const source = createReadStream(absolute, { fd, start: 0, end: size - 1, highWaterMark: READ_CHUNK });
  let length = 0;
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      length += chunk.length;
      callback(null, chunk);
    },
    flush(callback) {
      if (length >= size) onRead();
      callback(length < size ? shrankError(absolute, size, length) : null);
    },
  });
  return pipeline(source, checked, () => undefined);
}

/** Names in sorted order; a name that is not valid UTF-8 cannot be stored faithfully, so it fails. */
function sortedEntries(folder: string): Array<{ name: string; dirent: Dirent<Buffer> }> {
  const entries = readdirSync(folder, { withFileTypes: true, encoding: 'buffer' }).map((dirent) => {
    const name = dirent.name.toString('utf8');
    if (!Buffer.from(name, 'utf8').equals(dirent.name)) {
      throw new AzsError(
        'RoleFailed',
        `The name '${name}' in '${folder}' is not valid UTF-8 and cannot be backed up faithfully. Rename it with UTF-8 characters.`,
        { target: path.join(folder, name) },
      );
    }
    return { name, dirent };
  });
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function isRuntimeObject(dirent: Dirent<Buffer>): boolean {
  return dirent.isFIFO() || dirent.isSocket() || dirent.isBlockDevice() || dirent.isCharacterDevice();
}

/** A file changed while it was copied when its size or mtime moved since its header was made. */
function changedSince(before: EntryHeader, after: Stats | undefined): boolean {
  return !after || after.size !== before.size || after.mtimeMs !== before.mtimeMs;
}

function header(entryPath: string, type: EntryHeader['type'], stats: Stats, size: number): EntryHeader {
  return { path: entryPath, type, mode: stats.mode & 0o7777, mtimeMs: stats.mtimeMs, size };
}

function shrankError(absolute: string, size: number, available: number): AzsError {
  return new AzsError(
    'RoleFailed',
    `'${absolute}' shrank from ${size} to ${available} bytes while it was being backed up. ` +
      'Stop the service that rewrites it during backups (or back it up with a provider that snapshots it), then run the backup again.',
    { target: absolute },
  );
}
