/**
 * Writes archive entries back as a folder tree: files with their content, owners, modes and mtimes,
 * folders, symbolic links as links. Folders get their modes and mtimes last, children first, because
 * writing a child changes its folder's mtime (and a read-only folder mode would stop the writes).
 *
 * Entries come from a backup, so they are checked before anything is written: a path that would
 * leave the folder, pass through a symbolic link written earlier, or appear twice is refused.
 *
 * Entries are checked, folders, links and small files made in order, on the caller's thread, with
 * synchronous calls: for a file of a few KiB the six calls (open, write, owner, mode, times, close)
 * each cost less than a trip through libuv's thread pool and a promise (see docs/benchmarks.md,
 * "Restore: where the time goes"). Larger files are written several at once (FileWrite), because one
 * after another leaves the disk idle between them. Their content is held while it waits for its
 * write: views of the archive's block buffers, not copies, handed back (entry.release) once written
 * so that the archive reuses their blocks. LIMITS bounds how many files and how many content bytes
 * wait at once. Files of DIRECT_CHUNK_BYTES and more are written unbuffered where the file system
 * allows it (copied into aligned buffers, util/directFileSink.ts): they skip the page cache, whose
 * first touch is costly on the test machine, and leave the final flush little to write.
 */
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  futimesSync,
  lchownSync,
  lutimesSync,
  mkdirSync,
  openSync,
  symlinkSync,
  utimesSync,
  writevSync,
} from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { chmod, lchown, mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type { EntryHeader, ExtractedEntry } from '../archive/entry.js';
import { AzsError } from '../protocol/errors.js';
import { DirectFileWriter } from '../util/directFileSink.js';
import { DIRECT_CHUNK_BYTES, createDirect } from '../util/directIo.js';
import { filesNeedOwnFlush, flushFileSystem } from '../util/durability.js';

export interface WriteLimits {
  /** Files being written at once. */
  files: number;
  /** Content bytes handed out by the archive and not yet written (one chunk may exceed it alone). */
  bytes: number;
}

/**
 * Eight files keep the disk and libuv's four file system threads busy (other counts were not tried:
 * docs/benchmarks.md); the bytes bound memory whatever the tree (each held view also keeps its
 * block, at most 16 MiB, alive).
 */
export const LIMITS: WriteLimits = { files: 8, bytes: 8 * 1024 * 1024 };

/**
 * Files up to this size are gathered whole and written synchronously; larger ones go to a FileWrite.
 * The bench's tree has files of 4 and 32 KiB and nothing between 64 KiB and 5 MiB.
 */
export const SMALL_FILE_BYTES = 256 * 1024;

/**
 * Writes `entries` into `folder` (created when missing). Returns when every entry is on disk, durably:
 * flushed once at the end (util/durability.ts says why, and what Windows does). On failure, every
 * file write started has ended before the error is thrown, so the caller may remove the folder.
 * `limits` other than LIMITS are for tests.
 */
export async function writeTree(
  entries: AsyncIterable<ExtractedEntry>,
  folder: string,
  limits: WriteLimits = LIMITS,
): Promise<void> {
  await mkdir(folder, { recursive: true });
  const writer = new TreeWriter(folder, limits);
  try {
    for await (const entry of entries) await writer.add(entry);
    await writer.filesWritten();
  } catch (error) {
    await writer.abandon();
    throw error;
  }
  writer.finish();
  await flushFileSystem(folder);
}

/** The parts of an entry path, or BackupCorrupt when the path could lead outside the role's folder. */
export function entryPathSegments(entryPath: string): string[] {
  const segments = entryPath.split('/');
  const unsafe =
    segments.some(
      (segment) => segment === '' || segment === '.' || segment === '..' || segment.includes('\0'),
    ) ||
    (process.platform === 'win32' && /[\\:]/.test(entryPath));
  if (unsafe) {
    throw corrupt(
      `the entry path '${entryPath}' is not a plain relative path inside the role's folder`,
      entryPath,
    );
  }
  return segments;
}

class TreeWriter {
  /** Folders written so far, in order, with the header whose mode and mtime they get at the end. */
  private readonly folders = new Map<string, EntryHeader | undefined>([['', undefined]]);
  /** Files and links written so far: nothing may be written below them. */
  private readonly leaves = new Set<string>();
  private readonly writes = new Set<FileWrite>();
  private readonly budget: ByteBudget;
  private failure: Error | undefined;

  constructor(
    private readonly root: string,
    private readonly limits: WriteLimits,
  ) {
    this.budget = new ByteBudget(limits.bytes);
  }

  async add(entry: ExtractedEntry): Promise<void> {
    const segments = entryPathSegments(entry.path);
    this.ensureParents(segments);
    const relative = segments.join('/');
    if (this.folders.has(relative) || this.leaves.has(relative)) {
      throw corrupt(`the entry '${entry.path}' appears twice`, entry.path);
    }
    const target = path.join(this.root, ...segments);
    if (entry.type === 'directory') {
      mkdirSync(target, { mode: 0o700 });
      this.folders.set(relative, entry);
      return;
    }
    this.leaves.add(relative);
    if (entry.type === 'symlink') writeLink(entry, target);
    else if (entry.type === 'file' && entry.size <= SMALL_FILE_BYTES) {
      const content = await wholeContent(entry);
      writeSmallFile(entry, target, content);
      for (const chunk of content) entry.release?.(chunk); // written: the archive reuses their blocks
    } else if (entry.type === 'file') await this.startFile(entry, target);
    else throw corrupt(`the entry '${entry.path}' has the unknown type '${String(entry.type)}'`, entry.path);
  }

  /** Waits for every file write; throws the first failure. */
  async filesWritten(): Promise<void> {
    await Promise.all([...this.writes].map((write) => write.done));
    this.throwIfFailed();
  }

  /** Stops every file write that is waiting for content and waits until each has ended. */
  async abandon(): Promise<void> {
    for (const write of this.writes) write.abandon();
    await Promise.allSettled([...this.writes].map((write) => write.done));
  }

  /**
   * Hands the file's content to a FileWrite as it comes (the archive gives the next entry only once
   * this one's content is read), waiting while too many files or bytes are in flight.
   */
  private async startFile(entry: ExtractedEntry, target: string): Promise<void> {
    while (this.writes.size >= this.limits.files)
      await Promise.race([...this.writes].map((write) => write.done));
    this.throwIfFailed();
    const write = new FileWrite(entry, target, this.budget);
    this.writes.add(write);
    void write.done.then(
      () => this.writes.delete(write),
      (error: Error) => {
        this.failure ??= error;
        this.writes.delete(write);
      },
    );
    for await (const chunk of checkedContent(entry)) {
      await this.budget.take(chunk.length);
      this.throwIfFailed();
      write.push(chunk);
    }
    write.end();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** Folders' modes and mtimes, deepest first, after everything inside them is written. */
  finish(): void {
    for (const [relative, header] of [...this.folders].reverse()) {
      if (!header) continue;
      const target = path.join(this.root, ...relative.split('/'));
      setOwnerAndModeSync(target, header);
      utimesSync(target, header.mtimeMs / 1000, header.mtimeMs / 1000);
    }
  }

  /** Parents missing from the entries are created plainly; a parent that is a file or link is refused. */
  private ensureParents(segments: string[]): void {
    for (let depth = 1; depth < segments.length; depth += 1) {
      const parent = segments.slice(0, depth).join('/');
      if (this.folders.has(parent)) continue;
      if (this.leaves.has(parent)) {
        throw corrupt(`the entry '${segments.join('/')}' lies below the file or link '${parent}'`, parent);
      }
      mkdirSync(path.join(this.root, ...segments.slice(0, depth)), { mode: 0o755 });
      this.folders.set(parent, undefined);
    }
  }
}

/** Bytes held by file writes: take waits while more than the limit would be held. */
class ByteBudget {
  private held = 0;
  private waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Reserves `bytes`; a chunk larger than the whole limit waits until nothing else is held. */
  async take(bytes: number): Promise<void> {
    while (this.held > 0 && this.held + bytes > this.limit) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.held += bytes;
  }

  release(bytes: number): void {
    this.held -= bytes;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}

/**
 * One file written from content pushed to it: everything queued goes out in one writev (or, for a
 * large file, through a DirectFileWriter), then the file gets its owner, mode and times through the
 * same handle (no path is looked up again).
 */
class FileWrite {
  readonly done: Promise<void>;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private ended = false;
  private abandoned = false;
  private finished = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly entry: ExtractedEntry,
    private readonly target: string,
    private readonly budget: ByteBudget,
  ) {
    this.done = this.run();
  }

  /** Queues `chunk` (taken from the budget); a write that has ended gives it straight back. */
  push(chunk: Buffer): void {
    if (this.finished) {
      this.budget.release(chunk.length);
      return;
    }
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    this.wakeUp();
  }

  end(): void {
    this.ended = true;
    this.wakeUp();
  }

  /** Drops what is queued; the write ends without writing more. */
  abandon(): void {
    this.abandoned = true;
    this.end();
  }

  private wakeUp(): void {
    this.wake?.();
    this.wake = undefined;
  }

  private async run(): Promise<void> {
    try {
      await this.write();
    } finally {
      this.finished = true;
      this.budget.release(this.queuedBytes);
      this.queue = [];
      this.queuedBytes = 0;
    }
  }

  private async write(): Promise<void> {
    // Like 'wx', neither open follows or reuses an existing name.
    const direct = this.entry.size >= DIRECT_CHUNK_BYTES ? await createDirect(this.target, 0o600) : null;
    const handle = direct ?? (await open(this.target, 'wx', 0o600));
    try {
      await this.writeContent(handle, direct ? new DirectFileWriter(direct) : undefined);
      if (this.abandoned) return;
      if (filesNeedOwnFlush()) await handle.sync();
      await setOwnerAndMode(handle, this.entry);
      await handle.utimes(this.entry.mtimeMs / 1000, this.entry.mtimeMs / 1000);
    } finally {
      await handle.close();
    }
  }

  /**
   * Writes what is queued as it comes: through `direct` (unbuffered, copied into its aligned
   * buffers) or in one writev per batch.
   */
  private async writeContent(handle: FileHandle, direct: DirectFileWriter | undefined): Promise<void> {
    try {
      for (;;) {
        if (this.abandoned) return;
        if (this.queue.length === 0) {
          if (this.ended) break;
          await new Promise<void>((resolve) => (this.wake = resolve));
          continue;
        }
        const batch = this.queue;
        const bytes = this.queuedBytes;
        this.queue = [];
        this.queuedBytes = 0;
        try {
          await this.writeBatch(handle, direct, batch, bytes);
        } finally {
          this.budget.release(bytes);
        }
      }
      await direct?.end();
    } finally {
      await direct?.settle();
    }
  }

  private async writeBatch(
    handle: FileHandle,
    direct: DirectFileWriter | undefined,
    batch: Buffer[],
    bytes: number,
  ): Promise<void> {
    if (direct) {
      for (const chunk of batch) await direct.append(chunk);
    } else {
      const { bytesWritten } = await handle.writev(batch);
      checkWritten(this.target, bytesWritten, bytes);
    }
    for (const chunk of batch) this.entry.release?.(chunk); // written (or copied): the archive reuses their blocks
  }
}

/** The content of a file entry, chunk by chunk; BackupCorrupt when it is missing, short or too long. */
async function* checkedContent(entry: ExtractedEntry): AsyncGenerator<Buffer> {
  if (!entry.content && entry.size > 0) throw corrupt(`the file '${entry.path}' has no content`, entry.path);
  let received = 0;
  for await (const part of entry.content ?? []) {
    received += part.length;
    if (received > entry.size) break;
    yield part;
  }
  if (received !== entry.size) {
    throw corrupt(
      `the file '${entry.path}' holds ${received > entry.size ? 'more than ' : ''}${received} bytes where ${entry.size} were recorded`,
      entry.path,
    );
  }
}

/** Every chunk of a small file's content (views of block buffers, not copied). */
async function wholeContent(entry: ExtractedEntry): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of checkedContent(entry)) chunks.push(chunk);
  return chunks;
}

/** A small file written, given its owner, mode and times, all through one descriptor, synchronously. */
function writeSmallFile(entry: ExtractedEntry, target: string, content: Buffer[]): void {
  // 'wx' never follows or reuses an existing name.
  const fd = openSync(target, 'wx', 0o600);
  try {
    checkWritten(target, content.length === 0 ? 0 : writevSync(fd, content), entry.size);
    if (filesNeedOwnFlush()) fsyncSync(fd);
    setOwnerAndModeSync(fd, entry);
    futimesSync(fd, entry.mtimeMs / 1000, entry.mtimeMs / 1000);
  } finally {
    closeSync(fd);
  }
}

/** A short write (a full disk reports ENOSPC, but a write may also stop early) is an error. */
function checkWritten(target: string, written: number, expected: number): void {
  if (written !== expected) throw new Error(`${target}: ${written} of ${expected} bytes written`);
}

function writeLink(entry: ExtractedEntry, target: string): void {
  if (entry.linkTarget === undefined) throw corrupt(`the link '${entry.path}' has no target`, entry.path);
  symlinkSync(entry.linkTarget, target);
  if (runsAsRoot() && hasOwner(entry)) lchownSync(target, entry.uid, entry.gid);
  lutimesSync(target, entry.mtimeMs / 1000, entry.mtimeMs / 1000);
}

/** Set-user-id and set-group-id: kept only on an entry given back to the owner it was backed up with. */
const SET_ID_BITS = 0o6000;

/** What owner and mode are set through: a restored file's open handle, or a folder's path. */
type OwnerAndModeTarget = string | Pick<FileHandle, 'chown' | 'chmod'>;

/**
 * The owner and mode a restored file or folder (not a link: chmod follows links) gets. The owner is
 * set first, because a change of owner clears the set-id bits. A daemon that is not root cannot give
 * files away, and an entry without an owner (older format, Windows) has none to give back: both lose
 * the set-id bits, or they would run as whoever restored them.
 */
function ownerAndMode(entry: EntryHeader): { owner: { uid: number; gid: number } | undefined; mode: number } {
  if (runsAsRoot() && hasOwner(entry)) return { owner: { uid: entry.uid, gid: entry.gid }, mode: entry.mode };
  return { owner: undefined, mode: entry.mode & ~SET_ID_BITS };
}

/** Sets ownerAndMode through an open handle or by path. */
export async function setOwnerAndMode(target: OwnerAndModeTarget, entry: EntryHeader): Promise<void> {
  const file =
    typeof target === 'string'
      ? {
          chown: (uid: number, gid: number) => lchown(target, uid, gid),
          chmod: (mode: number) => chmod(target, mode),
        }
      : target;
  const { owner, mode } = ownerAndMode(entry);
  if (owner) await file.chown(owner.uid, owner.gid);
  await file.chmod(mode);
}

/** Sets ownerAndMode synchronously, by path or (`fd`) through a descriptor. */
function setOwnerAndModeSync(target: string | number, entry: EntryHeader): void {
  const { owner, mode } = ownerAndMode(entry);
  if (typeof target === 'number') {
    if (owner) fchownSync(target, owner.uid, owner.gid);
    fchmodSync(target, mode);
  } else {
    if (owner) lchownSync(target, owner.uid, owner.gid);
    chmodSync(target, mode);
  }
}

function hasOwner(entry: EntryHeader): entry is EntryHeader & { uid: number; gid: number } {
  return entry.uid !== undefined && entry.gid !== undefined;
}

/** Only root can give a file to another account (POSIX); Windows has no getuid. */
export function runsAsRoot(): boolean {
  return process.getuid?.() === 0;
}

function corrupt(what: string, target: string): AzsError {
  return new AzsError(
    'BackupCorrupt',
    `The backup cannot be restored: ${what}. The backup is damaged or was not written by AzureStackBackup; restore another backup.`,
    { target },
  );
}
