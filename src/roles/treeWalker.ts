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
 * walk therefore makes its system calls synchronously, in short slices (SLICE_FILES files or
 * SLICE_BYTES bytes) after which the event loop gets a turn. The listing says what each name is, so
 * a plain file needs open, one fstat, one read and close. A file of at most WHOLE_READ_LIMIT bytes
 * is read whole the moment it is opened, into one buffer reused for every such file, and its
 * descriptor closed at once; with `listSmallFiles` (format 4's cache of groups of small files) it is
 * only listed (lstat) and opened when the consumer wants its content (ArchiveEntry.open), so that a
 * consumer which already holds an unchanged file's bytes never reads it (the header stored is still
 * the open descriptor's). A larger file keeps its descriptor, and the archive reads it straight into its
 * blocks (`readInto`, a block at a time, in libuv's thread pool: no stream, no copy in between);
 * that descriptor is closed once the content has been read, when the consumer closes the entry
 * (ArchiveEntry.close) or when it asks for the next entry (or stops iterating), whichever comes
 * first. Either way an entry's content must be consumed before the next entry is asked for (or
 * opened). Measured with scripts/measure-walker.ts.
 *
 * A name the system refuses to read fails the walk with RoleFailed naming it: the role's failure,
 * never mistaken for the store's.
 */
import {
  type Dirent,
  type Stats,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  read,
  readSync,
  readdirSync,
  readlinkSync,
} from 'node:fs';
import { isUtf8 } from 'node:buffer';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { ArchiveEntry, EntryHeader } from '../archive/entry.js';
import { AzsError } from '../protocol/errors.js';
import { isWindows } from '../util/platform.js';

/** Files up to this size are read in one call when opened; larger ones are read as they are archived. */
export const WHOLE_READ_LIMIT = 64 * 1024;
/** The event loop gets a turn after this many entries or bytes read synchronously. */
const SLICE_FILES = 64;
const SLICE_BYTES = 1024 * 1024;
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** What a name's bytes that are not UTF-8 read as. */
const REPLACEMENT_CHARACTER = '\uFFFD';
/** A read in libuv's thread pool. */
const readAt = promisify(read);

/**
 * What the synchronous scan found: an entry whose content (if any) is in memory, a large open file,
 * or a small file listed and not opened yet.
 */
type Scanned = InMemory | OpenFile | { header: EntryHeader; identity: string; unopened: string };
type InMemory = { header: EntryHeader; data?: Buffer; changed?: boolean; identity?: string };
type OpenFile = { header: EntryHeader; fd: number; absolute: string; identity: string };

export interface WalkOptions {
  /** Small files listed, and opened only when their content is wanted (see the module comment). */
  listSmallFiles?: boolean;
}

export function walkTree(root: string, options: WalkOptions = {}): AsyncGenerator<ArchiveEntry> {
  return paced(scanFolder(smallFileBuffer(), path.normalize(root), '', options), root);
}

/**
 * One file as one entry (see the module comment for the descriptor's life). Yields nothing when the
 * path is gone or is a folder, FIFO or device; a link in its place is yielded as a link, not followed.
 */
export function fileEntry(absolute: string, entryPath: string): AsyncGenerator<ArchiveEntry> {
  return paced(scanFile(smallFileBuffer(), absolute, entryPath), absolute);
}

/**
 * Hands out what `scan` of `root` finds, giving the event loop a turn after every slice of
 * synchronous work. A name it cannot read fails the walk with unreadable() (see there). One
 * generator from the scan to the consumer: each level of async generators costs every entry a few
 * promises (docs/benchmarks.md, "Format 4: a walk's garbage, and what starts V8's full collections").
 */
async function* paced(scan: Generator<Scanned>, root: string): AsyncGenerator<ArchiveEntry> {
  const opener = new Opener();
  let entries = 0;
  let bytes = 0;
  try {
    for (const item of scan) {
      if ('fd' in item) {
        yield* largeFile(item);
      } else if ('unopened' in item) {
        const absolute = item.unopened;
        yield {
          ...item.header,
          identity: item.identity,
          open: () => opener.open(absolute, item.header.path),
        };
      } else {
        yield inMemoryEntry(item);
        bytes += item.header.size;
      }
      entries += 1;
      if (entries >= SLICE_FILES || bytes >= SLICE_BYTES) {
        await nextTurn();
        entries = 0;
        bytes = 0;
      }
    }
  } catch (error) {
    throw unreadable(error, root);
  } finally {
    opener.close();
  }
}

function* scanFolder(
  buffer: Buffer,
  folder: string,
  relative: string,
  options: WalkOptions,
): Generator<Scanned> {
  for (const dirent of sortedEntries(folder)) {
    const absolute = childPath(folder, dirent.name);
    const entryPath = relative ? `${relative}/${dirent.name}` : dirent.name;
    if (dirent.isFile() && !options.listSmallFiles) yield* scanFile(buffer, absolute, entryPath);
    else if (!isRuntimeObject(dirent)) yield* scanByLstat(buffer, absolute, entryPath, options);
  }
}

/**
 * Folders, links, names whose type the listing did not give (some file systems do not), and files
 * when small ones are listed (not opened).
 */
function* scanByLstat(
  buffer: Buffer,
  absolute: string,
  entryPath: string,
  options: WalkOptions,
): Generator<Scanned> {
  const stats = lstatSync(absolute, { throwIfNoEntry: false });
  if (!stats) return; // deleted since it was listed
  if (stats.isDirectory()) {
    yield { header: header(entryPath, 'directory', stats, 0) };
    yield* scanFolder(buffer, absolute, entryPath, options);
  } else if (stats.isSymbolicLink()) {
    yield { header: { ...header(entryPath, 'symlink', stats, 0), linkTarget: readlinkSync(absolute) } };
  } else if (stats.isFile() && stats.size <= WHOLE_READ_LIMIT && options.listSmallFiles) {
    yield {
      header: header(entryPath, 'file', stats, stats.size),
      identity: identityOf(stats),
      unopened: absolute,
    };
  } else if (stats.isFile()) {
    yield* scanFile(buffer, absolute, entryPath);
  }
}

/** `buffer` receives the content of a small file; it is consumed before the next file is read. */
function* scanFile(buffer: Buffer, absolute: string, entryPath: string): Generator<InMemory | OpenFile> {
  let fd: number;
  try {
    fd = openSync(absolute, OPEN_FLAGS);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return; // deleted since it was listed
    if (code === 'ELOOP') return yield* scanLink(absolute, entryPath); // replaced by a link: keep the link
    throw unreadable(error, absolute);
  }
  let stats: Stats;
  try {
    stats = fstatSync(fd);
  } catch (error) {
    closeSync(fd);
    throw unreadable(error, absolute);
  }
  if (!stats.isFile()) {
    closeSync(fd); // replaced by a folder or FIFO since it was listed: not followed into
    return;
  }
  const fileHeader = header(entryPath, 'file', stats, stats.size);
  if (stats.size > WHOLE_READ_LIMIT) {
    // The descriptor now belongs to largeFile.
    yield { header: fileHeader, fd, absolute, identity: identityOf(stats) };
    return;
  }
  let data: Buffer;
  let changed: boolean;
  try {
    data = readWhole(fd, buffer.subarray(0, stats.size), absolute);
    changed = changedSince(fileHeader, fstatSync(fd));
  } catch (error) {
    throw unreadable(error, absolute);
  } finally {
    closeSync(fd);
  }
  yield { header: fileHeader, data, changed, identity: identityOf(stats) };
}

/** A new inode or change time is another version of the file. */
function identityOf(stats: Stats): string {
  return `${stats.dev}:${stats.ino}:${stats.ctimeMs}`;
}

/**
 * Opens the small files a walk listed, when the consumer wants their content (ArchiveEntry.open),
 * into a buffer of its own: the walk's may hold a file read at scan time that is not consumed yet.
 */
class Opener {
  private readonly buffer = smallFileBuffer();
  /**
   * A file that grew past WHOLE_READ_LIMIT since it was listed keeps its descriptor until its content
   * is read, a read of it fails, the consumer closes its entry, the next open or the walk's end
   * (opened after the end: one of the first three).
   */
  private grown: Generator<ArchiveEntry> | undefined;

  open(absolute: string, entryPath: string): ArchiveEntry | null {
    this.close();
    try {
      for (const item of scanFile(this.buffer, absolute, entryPath)) {
        if (!('fd' in item)) return inMemoryEntry(item);
        this.grown = largeFile(item);
        return this.grown.next().value as ArchiveEntry;
      }
      return null; // gone since it was listed
    } catch (error) {
      throw unreadable(error, absolute);
    }
  }

  /** Closes what the last open left open. */
  close(): void {
    this.grown?.return(undefined);
    this.grown = undefined;
  }
}

/** The entry of a file read whole (or of a folder or link): its content served from memory. */
function inMemoryEntry({ header: entryHeader, data, changed, identity }: InMemory): ArchiveEntry {
  if (!data) return entryHeader;
  return {
    ...entryHeader,
    identity,
    readInto: bufferReader(data),
    changedDuringCopy: () => changed === true,
  };
}

function* scanLink(absolute: string, entryPath: string): Generator<InMemory> {
  const stats = lstatSync(absolute, { throwIfNoEntry: false });
  if (!stats?.isSymbolicLink()) return;
  yield { header: { ...header(entryPath, 'symlink', stats, 0), linkTarget: readlinkSync(absolute) } };
}

/** One per walk (walks run side by side): every small file of the walk is read into it. */
function smallFileBuffer(): Buffer {
  return Buffer.allocUnsafeSlow(WHOLE_READ_LIMIT);
}

/** Fills `data` from the start of the file; fewer bytes fails (the file shrank since its fstat). */
function readWhole(fd: number, data: Buffer, absolute: string): Buffer {
  for (let position = 0; position < data.length;) {
    const bytesRead = readSync(fd, data, position, data.length - position, position);
    if (bytesRead === 0) throw shrankError(absolute, data.length, position);
    position += bytesRead;
  }
  return data;
}

/** `readInto` for content already in memory. */
function bufferReader(data: Buffer): (target: Buffer) => number {
  let position = 0;
  return (target) => {
    const count = data.copy(target, 0, position);
    position += count;
    return count;
  };
}

/**
 * A large file's entry: `readInto` reads its content from the descriptor the header came from, in
 * libuv's thread pool (the copy of a block's worth of data then costs the archiving thread nothing),
 * and closes the descriptor after the last byte (or this generator does, once the consumer moves on).
 */
function* largeFile({
  header: fileHeader,
  fd,
  absolute,
  identity,
}: Extract<Scanned, { fd: number }>): Generator<ArchiveEntry> {
  let position = 0;
  let open = true;
  let changed = false;
  const close = () => {
    if (open) closeSync(fd);
    open = false;
  };
  const readNext = async (target: Buffer): Promise<number> => {
    const wanted = Math.min(target.length, fileHeader.size - position);
    const { bytesRead: count } = await readAt(fd, target, 0, wanted, position).catch((error: unknown) => {
      throw unreadable(error, absolute);
    });
    if (count === 0) throw shrankError(absolute, fileHeader.size, position);
    position += count;
    if (position === fileHeader.size) {
      changed = changedSince(fileHeader, fstatSync(fd));
      close();
    }
    return count;
  };
  const readInto = async (target: Buffer): Promise<number> => {
    if (position === fileHeader.size) return 0;
    if (!open) {
      throw new Error(
        `The content of '${fileHeader.path}' was read after its entry was closed (or the next one asked for).`,
      );
    }
    // A read that fails ends the entry: its descriptor goes now, since a file opened after the walk
    // ended (a listed small file grown large, treeWalker's Opener) has no next entry to close it.
    return readNext(target).catch((error: unknown) => {
      close();
      throw error;
    });
  };
  try {
    yield { ...fileHeader, readInto, changedDuringCopy: () => changed, identity, close };
  } finally {
    close();
  }
}

/**
 * The folder's entries, sorted by name. A name that is not valid UTF-8 cannot be stored faithfully,
 * so it fails: listed as UTF-8, such a name reads with U+FFFD in it, and only a folder with that
 * character in a name is listed again as bytes to tell a bad name from a good one that holds it.
 * Listing every folder as bytes (two Buffers a name) cost about a tenth of a walk that only lists
 * small files: the bench's ECE folder, 26,940 entries, in 168–177 ms against 183–207 (best of 15).
 */
function sortedEntries(folder: string): Dirent[] {
  const entries = readdirSync(folder, { withFileTypes: true });
  if (entries.some((dirent) => dirent.name.includes(REPLACEMENT_CHARACTER))) checkNamesAreUtf8(folder);
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Fails (RoleFailed) on the first name in `folder` whose bytes are not UTF-8, naming it. */
function checkNamesAreUtf8(folder: string): void {
  for (const raw of readdirSync(folder, { encoding: 'buffer' })) {
    if (!isUtf8(raw)) {
      const name = raw.toString('utf8');
      throw new AzsError(
        'RoleFailed',
        `The name '${name}' in '${folder}' is not valid UTF-8 and cannot be backed up faithfully. Rename it with UTF-8 characters.`,
        { target: childPath(folder, name) },
      );
    }
  }
}

/**
 * `name` in `folder`, as path.join would give it for a folder normalized once (at the walk's root),
 * without normalizing the whole path again for every name of the tree.
 */
function childPath(folder: string, name: string): string {
  return folder.endsWith(path.sep) ? folder + name : `${folder}${path.sep}${name}`;
}

function isRuntimeObject(dirent: Dirent): boolean {
  return dirent.isFIFO() || dirent.isSocket() || dirent.isBlockDevice() || dirent.isCharacterDevice();
}

/** A file changed while it was copied when its size or mtime moved since its header was made. */
function changedSince(before: EntryHeader, after: Stats | undefined): boolean {
  return !after || after.size !== before.size || after.mtimeMs !== before.mtimeMs;
}

function header(entryPath: string, type: EntryHeader['type'], stats: Stats, size: number): EntryHeader {
  return {
    path: entryPath,
    type,
    mode: stats.mode & 0o7777,
    mtimeMs: stats.mtimeMs,
    size,
    ...ownerOf(stats),
  };
}

/** The numeric owner a restore gives back (docs/format.md); Windows has none (its stats say 0). */
export function ownerOf(stats: Stats): Pick<EntryHeader, 'uid' | 'gid'> {
  return isWindows ? {} : { uid: stats.uid, gid: stats.gid };
}

/**
 * A name of the role that the system refuses to read (EACCES, EIO …) is the role's failure, not the
 * store's: an AzsError RoleFailed naming the path (the failing call's own, else `absolute`) and what
 * to do. AzsErrors and errors without an errno code pass through as they are.
 */
function unreadable(error: unknown, absolute: string): unknown {
  const { code, path: failed } = error as Partial<NodeJS.ErrnoException>;
  if (error instanceof AzsError || typeof code !== 'string') return error;
  const where = failed ?? absolute;
  return new AzsError(
    'RoleFailed',
    `'${where}' cannot be read (${(error as Error).message}). ` +
      "Give the daemon's account read access to it, or move it out of the role's data; then run the backup again.",
    { target: where, cause: error },
  );
}

function shrankError(absolute: string, size: number, available: number): AzsError {
  return new AzsError(
    'RoleFailed',
    `'${absolute}' shrank from ${size} to ${available} bytes while it was being backed up. ` +
      'Stop the service that rewrites it during backups (or back it up with a provider that snapshots it), then run the backup again.',
    { target: absolute },
  );
}
