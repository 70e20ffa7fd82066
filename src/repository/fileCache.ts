/**
 * The file cache (docs/format.md, "The file cache"): for each large file of a role, the chunks its
 * record was cut into at the last backup, so that an unchanged file (same path, same encoded header,
 * same identity: device, inode, change time) is not read again. A chunk is reused only while the
 * index has it in a stored pack; a cache lost or stale costs only speed.
 */
import { createHash } from 'node:crypto';

export interface CachedRecord {
  /** The file's identity when it was read (ArchiveEntry.identity). */
  identity: string;
  /** SHA-256 (hex) of the record's encoded header: size, mtime, mode and owner as stored. */
  record: string;
  /** The record's chunks: id (hex) and length. */
  chunks: [string, number][];
}

/** By the file's path in the role. */
export type FileCache = Map<string, CachedRecord>;

export function recordHash(record: Buffer): string {
  return createHash('sha256').update(record).digest('hex');
}
