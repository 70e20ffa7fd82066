/**
 * A role's data as one stored file, and back (docs/format.md, "Role files"): entries → records →
 * blocks → zstd in the worker pool → AES-256-GCM per block → frames. Everything streams: memory stays
 * bounded by a few blocks whatever the data size.
 */
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { AzsError, isAzsError } from '../protocol/errors.js';
import { ByteReader } from './byteReader.js';
import { type BlockPool, sharedBlockPool } from './blockPool.js';
import { crc32Combine } from './crc32Combine.js';
import type { ArchiveEntry, ExtractedEntry } from './entry.js';
import { type RecordCounts, decodeRecords, recordBlocks } from './records.js';
import {
  DEFAULT_BLOCK_SIZE,
  MAX_BLOCK_SIZE,
  MIN_BLOCK_SIZE,
  ROLE_FILE_VERSION,
  type ParsedFileHeader,
  damaged,
  hasContentHashes,
} from './roleFileFormat.js';
import { BlockBuffers, PlaintextBuffers, openBlocks, sealBlocks } from './sealedBlocks.js';

export interface ArchiveSummary {
  /** Entries of every type. */
  entries: number;
  files: number;
  /** Content bytes of the files, before compression. */
  sourceBytes: number;
  /** Bytes of the stored file. */
  storedBytes: number;
  /** CRC-32 of the stored file, to compare the copy read back with (see storedFile.ts). */
  crc32: number;
  /** Files that changed while they were copied (each stored whole, as read; see docs/format.md). */
  changedDuringCopy: string[];
}

export interface RoleArchiveOptions {
  /** The backup key (32 bytes). */
  key: Buffer;
  /**
   * Names the stored file inside its backup; it is bound into the encryption, so a file is only
   * readable under the id it was written with. The manifest records it as the file's FileId.
   */
  fileId: string;
  /** Tests and measurements only; the default is the process-wide pool. */
  pool?: BlockPool;
}

export interface ReadRoleArchiveOptions extends RoleArchiveOptions {
  /** The FormatVersion of the manifest that lists the file: its role files must be of that version. */
  formatVersion: number;
}

export interface WriteRoleArchiveOptions extends RoleArchiveOptions {
  /** Aborting destroys the stream with a JobCancelled error. */
  signal?: AbortSignal;
  /** Plaintext bytes per block; the default suits the 2-core target (see docs/format.md). */
  blockSize?: number;
}

/**
 * Starts turning `entries` into a stored role file. Pipe `stream` into the store; `summary` resolves
 * once the stream has ended, and rejects with the stream's error otherwise. A file whose content is
 * not exactly its `size` bytes fails the stream with RoleFailed.
 */
export function writeRoleArchive(
  entries: AsyncIterable<ArchiveEntry>,
  options: WriteRoleArchiveOptions,
): { stream: Readable; summary: Promise<ArchiveSummary> } {
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(blockSize) || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE) {
    throw new RangeError(`blockSize must be between ${MIN_BLOCK_SIZE} and ${MAX_BLOCK_SIZE} bytes`);
  }
  const counts: RecordCounts = { entries: 0, files: 0, sourceBytes: 0 };
  const changedDuringCopy: string[] = [];
  let crc = 0;
  let storedBytes = 0;
  const { signal } = options;
  async function* storedChunks(): AsyncGenerator<Buffer> {
    const buffers = new BlockBuffers(blockSize);
    const blocks = recordBlocks(entries, buffers, counts, signal, changedDuringCopy);
    const pool = options.pool ?? sharedBlockPool();
    try {
      for await (const piece of sealBlocks(blocks, buffers, {
        key: options.key,
        fileId: options.fileId,
        pool,
      })) {
        crc = crc32Combine(crc, piece.crc32, piece.length);
        storedBytes += piece.length;
        yield* piece.parts;
      }
    } catch (error) {
      throw signal?.aborted ? cancelled(signal) : error;
    }
  }
  const stream = Readable.from(storedChunks(), { objectMode: false });
  const onAbort = () => stream.destroy(cancelled(signal!));
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  stream.once('close', () => signal?.removeEventListener('abort', onAbort));
  const summary = finished(stream).then(() => ({
    ...counts,
    storedBytes,
    crc32: crc,
    changedDuringCopy,
  }));
  summary.catch(() => undefined); // the caller may only watch the stream; its error is not lost
  return { stream, summary };
}

function cancelled(signal: AbortSignal): AzsError {
  if (isAzsError(signal.reason)) return signal.reason;
  return new AzsError(
    'JobCancelled',
    'The backup was cancelled before this role was stored. Start it again when ready.',
  );
}

/**
 * The entries of a stored role file, in order, each checked as it is read. Consume a file entry's
 * `content` before asking for the next entry; content left unread is read and checked then. Every
 * byte given out comes from an authenticated block; in a version 1 file, a file's content stream also
 * ends only after its recorded SHA-256 matched, and fails with BackupCorrupt (target: the entry's
 * path) otherwise. Any damage to the stored file — a changed, missing, reordered, foreign or
 * truncated block, or bytes after the end — fails with
 * BackupCorrupt (target: the fileId); no byte of an unauthenticated block is ever given out. Entry
 * paths are checked (relative, no '..', no NUL, not through a stored symbolic link).
 */
export function readRoleArchive(
  stored: AsyncIterable<Buffer>,
  options: ReadRoleArchiveOptions,
): AsyncIterable<ExtractedEntry> {
  const pool = options.pool ?? sharedBlockPool();
  let version = ROLE_FILE_VERSION;
  const buffers = new PlaintextBuffers();
  const checkVersion = (header: ParsedFileHeader) => {
    if (header.version !== options.formatVersion) {
      throw damaged(
        options.fileId,
        `it is a version ${header.version} role file, but its manifest says format ${options.formatVersion}: one of them was rewritten`,
      );
    }
    version = header.version;
  };
  const blocks = openBlocks(
    stored,
    { key: options.key, fileId: options.fileId, pool },
    checkVersion,
    buffers,
  );
  // Records are only parsed once the first block has been opened, so the version is known by then.
  return decodeRecords(
    new ByteReader(blocks, (block) => buffers.passed(block)),
    options.fileId,
    () => hasContentHashes(version),
    buffers,
  );
}

export type VerifyResult = { ok: true } | { ok: false; file: string | null; message: string };

/**
 * Decrypts and checks a whole stored role file, writing nothing. `file` names the entry whose
 * content or header was damaged, or is null when the damage is in the stored file's structure.
 * Errors that are not damage (the store cannot be read) are thrown.
 */
export async function verifyRoleArchive(
  stored: AsyncIterable<Buffer>,
  options: ReadRoleArchiveOptions,
): Promise<VerifyResult> {
  try {
    // Content left unread is read and checked by the archive itself, in buffers it reuses.
    for await (const entry of readRoleArchive(stored, options)) void entry;
    return { ok: true };
  } catch (error) {
    if (!isAzsError(error, 'BackupCorrupt')) throw error;
    return {
      ok: false,
      file: error.target === options.fileId ? null : (error.target ?? null),
      message: error.message,
    };
  }
}
