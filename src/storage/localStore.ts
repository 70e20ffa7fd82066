/**
 * A local (or already-mounted) folder used as the external store.
 *
 * Whoever can write the store must not be able to make the daemon (often root) act outside it, so
 * nothing below the root is followed as a link: every operation first checks that the real path of
 * the folder it works in is the one its names spell under the root's real path (a link anywhere on
 * the way, to outside the store or inside it, fails that check); listings use lstat, so a link,
 * FIFO, device or socket is an entry of type 'other' and never descended into; a file is read only
 * when it is a regular file opened without following a link; folders are made one level at a time,
 * each checked to be a real folder; a removal removes a link itself, never its target. The root
 * itself may be a link: the operator chose it. What remains is a race: a writer who swaps a folder
 * for a link between the check and the operation (docs/storage.md).
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import {
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  realpath,
  rename,
  rm,
  stat,
  statfs,
} from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AzsError } from '../protocol/errors.js';
import { createDirect } from '../util/directIo.js';
import type { FileDigest } from '../util/fileDigest.js';
import { NotARegularFile, kindOf, openRegularFile } from '../util/regularFile.js';
import { DirectFileSink } from '../util/directFileSink.js';
import { StoreError } from './storeError.js';
import { digestLocalFile } from './localDigest.js';
import type { BackupStore, Capacity, SessionInfo, StoreEntry } from './store.js';

/** Written bytes after which the file's data is handed to the disk, while more is still coming. */
const EARLY_FLUSH_BYTES = 32 * 1024 * 1024;

/**
 * For buffered writes (where unbuffered ones are not possible, see directIo.ts): a pass-through
 * stream that starts the disk on a file's data while it is still being written (one fdatasync at a
 * time, every EARLY_FLUSH_BYTES), so that the fsync that makes the finished file durable has little
 * left to do. The kernel would otherwise hold all of it in memory until that fsync: on the 2-core
 * test machine flushing 176 MB at the end took 0.4 s, on the critical path of the backup. A flush
 * still running when the stream closes the handle is waited for by the close.
 */
function earlyFlush(handle: FileHandle): Transform {
  let written = 0;
  let flushing = false;
  return new Transform({
    transform: (chunk: Buffer, _encoding, callback) => {
      written += chunk.length;
      if (written >= EARLY_FLUSH_BYTES && !flushing) {
        written = 0;
        flushing = true;
        // Only a head start: the final fsync decides, so a failure here changes nothing.
        void handle
          .datasync()
          .catch(() => undefined)
          .finally(() => (flushing = false));
      }
      callback(null, chunk);
    },
  });
}

/**
 * The streams that write a new file and make it durable (synced to the device) before they end, the
 * sink last; the sink closes the file when it is done or destroyed. Unbuffered where possible, else
 * buffered with early flushes and an fsync before the handle closes.
 */
async function durableFile(
  file: string,
  allowDirect: boolean,
): Promise<{ stages: Transform[]; sink: Writable & { bytesWritten: number } }> {
  const direct = allowDirect ? await createDirect(file) : null;
  if (direct) return { stages: [], sink: new DirectFileSink(direct) };
  const handle = await open(file, 'wx');
  return { stages: [earlyFlush(handle)], sink: handle.createWriteStream({ flush: true }) };
}

export interface LocalFolderOptions {
  /**
   * Write and read back through the page cache even where unbuffered I/O is possible: what the
   * store does where the platform or file system refuses O_DIRECT, so that tests can run that path
   * on a machine that allows it.
   */
  bufferedIo?: boolean;
}

export class LocalFolderStore implements BackupStore {
  private realRoot: Promise<string> | undefined;
  private readonly direct: boolean;

  constructor(
    readonly location: string,
    options: LocalFolderOptions = {},
  ) {
    this.direct = !options.bufferedIo;
  }

  private resolve(relativePath: string): string {
    const full = path.resolve(this.location, ...relativePath.split('/').filter(Boolean));
    const relative = path.relative(this.location, full);
    if (relative.startsWith('..') || path.isAbsolute(relative)) {
      throw new AzsError('InvalidParameter', `The store path '${relativePath}' leaves the store folder.`, {
        target: relativePath,
      });
    }
    return full;
  }

  /**
   * The path of `relativePath` on disk, once the real path of what it names (`includeLast`) or of
   * its folder is found to be exactly where its names lead under the root: no link on the way. A
   * missing part is not refused here: the operation itself then fails or finds nothing.
   */
  private async confined(relativePath: string, includeLast: boolean): Promise<string> {
    const full = this.resolve(relativePath);
    const checked = includeLast ? full : path.dirname(full);
    const below = path.relative(path.resolve(this.location), checked);
    if (!below || below.startsWith('..')) return full; // the root itself, or above it (the root's own removal)
    let real: string;
    try {
      real = await realpath(checked);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return full;
      throw mapFsError(error, relativePath);
    }
    if (real !== path.join(await this.rootRealPath(), below)) throw linkRefused(relativePath, real);
    return full;
  }

  private rootRealPath(): Promise<string> {
    this.realRoot ??= realpath(this.location).catch((error: unknown) => {
      this.realRoot = undefined;
      throw mapFsError(error, this.location);
    });
    return this.realRoot;
  }

  async checkRoot(): Promise<void> {
    let info: Stats;
    try {
      info = await stat(this.location);
    } catch (error) {
      throw mapFsError(error, this.location);
    }
    if (!info.isDirectory()) {
      throw new AzsError(
        'PathNotFound',
        `The backup store path '${this.location}' is not a folder. Give an existing folder.`,
        {
          parameter: 'Path',
          target: this.location,
        },
      );
    }
  }

  /** One level at a time: a recursive mkdir would pass through a link that stands for a folder. */
  async mkdir(relativePath: string): Promise<void> {
    const parts = path.relative(path.resolve(this.location), this.resolve(relativePath)).split(path.sep);
    for (let depth = 1; depth <= parts.length && parts[0]; depth += 1) {
      const folder = path.join(this.location, ...parts.slice(0, depth));
      const made = await mkdir(folder).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code === 'EEXIST') return false;
          throw mapFsError(error, relativePath);
        },
      );
      if (made) continue;
      const info = await guard(lstat(folder), relativePath);
      if (info.isSymbolicLink()) throw linkRefused(relativePath, folder);
      if (!info.isDirectory()) {
        throw new AzsError(
          'StoreFault',
          `The backup store has ${kindOf(info)} at '${parts.slice(0, depth).join('/')}' where a folder is needed. Remove it from the store.`,
          { target: relativePath },
        );
      }
    }
  }

  async writeFile(relativePath: string, source: Readable): Promise<number> {
    const target = await this.confined(relativePath, false);
    const temp = `${target}.partial-${randomBytes(4).toString('hex')}`;
    // Whose failure is it? A failing sink makes pipeline destroy the source with the sink's error too.
    let sourceError: unknown;
    let sinkFailed = false;
    source.once('error', (error) => (sourceError ??= error));
    try {
      const { stages, sink } = await durableFile(temp, this.direct);
      sink.once('error', () => (sinkFailed = true));
      await pipeline([source, ...stages, sink]);
      await rename(temp, target);
      return sink.bytesWritten;
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      if (sourceError !== undefined && !sinkFailed) throw sourceError;
      throw error instanceof AzsError ? error : mapFsError(error, relativePath);
    }
  }

  async readFile(relativePath: string): Promise<Readable> {
    const full = await this.confined(relativePath, true);
    // Opened here so a missing file fails now, as the contract says; the stream owns the handle.
    try {
      const { handle } = await openRegularFile(full, { followLinks: false });
      return handle.createReadStream({ highWaterMark: 1024 * 1024 });
    } catch (error) {
      if (error instanceof NotARegularFile) throw notAFile(relativePath, error.kind);
      throw mapFsError(error, relativePath);
    }
  }

  async digest(relativePath: string): Promise<FileDigest> {
    const full = await this.confined(relativePath, true);
    try {
      return await digestLocalFile(full, { direct: this.direct });
    } catch (error) {
      if (error instanceof NotARegularFile) throw notAFile(relativePath, error.kind);
      throw mapFsError(error, relativePath);
    }
  }

  async list(relativePath: string): Promise<StoreEntry[]> {
    const folder = await this.confined(relativePath, true);
    let names: string[];
    try {
      names = await readdir(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw mapFsError(error, relativePath);
    }
    const entries = await Promise.all(
      names.map((name) => entryAt(path.join(folder, name), name, `${relativePath}/${name}`)),
    );
    return entries.filter((entry): entry is StoreEntry => entry !== null);
  }

  async stat(relativePath: string): Promise<StoreEntry | null> {
    const full = await this.confined(relativePath, false);
    return entryAt(full, path.posix.basename(relativePath), relativePath);
  }

  /** rm removes a link as the link (lstat), and what is inside a folder entry by entry, the same way. */
  async remove(relativePath: string): Promise<void> {
    const full = await this.confined(relativePath, false);
    await guard(rm(full, { recursive: true, force: true }), relativePath);
  }

  async capacity(): Promise<Capacity> {
    const info = await guard(statfs(this.location), this.location);
    return { availableBytes: info.bavail * info.bsize, totalBytes: info.blocks * info.bsize };
  }

  async sessionInfo(): Promise<SessionInfo | null> {
    return null;
  }

  async close(): Promise<void> {}
}

/** What is at `full`, seen with lstat (a link is an entry of its own); null when nothing is. */
async function entryAt(full: string, name: string, relativePath: string): Promise<StoreEntry | null> {
  try {
    const info = await lstat(full);
    return {
      name,
      type: info.isDirectory() ? 'directory' : info.isFile() ? 'file' : 'other',
      size: info.size,
      modified: info.mtime,
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw mapFsError(error, relativePath);
  }
}

function linkRefused(relativePath: string, real: string): AzsError {
  return new StoreError(
    'StorePathUnsafe',
    `The backup store path '${relativePath}' leads through a symbolic link (to '${real}'); nothing under the store is followed as a link.`,
    { parameter: 'Path', target: relativePath, facts: { backend: 'folder', finding: 'link' } },
  );
}

function notAFile(relativePath: string, kind: string): AzsError {
  return new StoreError(
    'StorePathUnsafe',
    `The backup store path '${relativePath}' is ${kind}, not a file; only plain files on the store are read.`,
    { parameter: 'Path', target: relativePath, facts: { backend: 'folder', finding: 'not-a-file' } },
  );
}

async function guard<T>(operation: Promise<T>, target: string): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    throw mapFsError(error, target);
  }
}

const FOLDER = { backend: 'folder' } as const;

/** Maps a file-system error to the store failure (and so the alert) it stands for. */
export function mapFsError(error: unknown, target: string): AzsError {
  const code = (error as NodeJS.ErrnoException).code ?? 'UNKNOWN';
  const detail = `${(error as Error).message ?? error}`;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new StoreError('PathNotFound', `The backup store path '${target}' does not exist (${code}).`, {
        parameter: 'Path',
        target,
        cause: error,
        facts: FOLDER,
      });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new StoreError(
        'StoreAccessDenied',
        `The backup store '${target}' cannot be written (${code}).`,
        {
          parameter: 'Path',
          target,
          cause: error,
          facts: FOLDER,
        },
      );
    case 'ENOSPC':
    case 'EDQUOT':
      return new StoreError('StoreFull', `The backup store is out of space (${code}).`, {
        target,
        cause: error,
        facts: FOLDER,
      });
    default:
      return new AzsError('StoreFault', `The backup store failed at '${target}': ${detail}`, {
        target,
        cause: error,
      });
  }
}
