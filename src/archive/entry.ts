/**
 * The unit a role's data is made of inside a backup: one entry per file, folder or symbolic link,
 * in the order the role produced them. Role providers produce and consume entries; the archive layer
 * turns a sequence of entries into a stored file (and back) without knowing what role they came from.
 */
import type { Readable } from 'node:stream';

export type EntryType = 'file' | 'directory' | 'symlink';

export interface EntryHeader {
  /** Relative POSIX path inside the role ('a/b/c.txt'); never absolute, never containing '..'. */
  path: string;
  type: EntryType;
  /** Permission bits (e.g. 0o644). */
  mode: number;
  /** Modification time, milliseconds since the epoch. */
  mtimeMs: number;
  /** Content length in bytes (files only; 0 otherwise). */
  size: number;
  /** Where a symbolic link points, exactly as stored in the link. */
  linkTarget?: string;
  /**
   * The numeric owner (user and group) on the machine that was backed up; absent where the platform
   * has none (Windows) and in files written before format version 3. A restore running as root gives
   * the entry this owner; without one it clears the setuid and setgid bits.
   */
  uid?: number;
  gid?: number;
}

/**
 * An entry to be archived. A file's content is exactly `size` bytes, given one of two ways, and must
 * be consumed before the next entry is asked for.
 */
export interface ArchiveEntry extends EntryHeader {
  /** The content as a stream. */
  content?: () => Readable | Promise<Readable>;
  /**
   * The content read straight into the archive's blocks (no stream, no copy in between): writes the
   * next bytes into `target` from its start and returns how many — at once for content in memory,
   * as a promise for a file read in the background — 0 only once the content is complete. Preferred
   * over `content`.
   */
  readInto?: (target: Buffer) => number | Promise<number>;
  /** Asked once the content has been read: whether the file changed (size or mtime) while it was copied. */
  changedDuringCopy?: () => boolean;
  /**
   * What tells this version of the file from another with the same header (device, inode and change
   * time), for providers that know it: format 4 then reuses the chunks of an unchanged large file
   * without reading it (docs/format.md, "The file cache"). Not stored.
   */
  identity?: string;
  /**
   * For a file listed but not opened yet (a Directory role's small files, so that a consumer that
   * already holds an unchanged file's bytes need not read it): opens it and returns the entry as the
   * open descriptor describes it (its header and identity may differ from the listing's; the content
   * is the descriptor's), or null when the name went away since it was listed. The content of the
   * entry returned must be consumed before another entry is opened or the next one asked for.
   */
  open?: () => ArchiveEntry | null;
  /**
   * Lets go of what the entry holds for its content (an open descriptor) at once, read to its end
   * or not: the consumer calls it when it is done with the entry, so that one it stops reading
   * halfway (a failed or cancelled backup) is not left holding it. Never while a read of the
   * content is under way; a no-op after the first call.
   */
  close?: () => void;
}

/** The entry with its content at hand: opened if it was only listed; null when it went away since. */
export function openedEntry(entry: ArchiveEntry): ArchiveEntry | null {
  return entry.open ? entry.open() : entry;
}

/** An entry read back: a file's content yields its authenticated bytes, and fails on damage. */
export interface ExtractedEntry extends EntryHeader {
  /** Read once, before the next entry is asked for; what is left unread is read and checked then. */
  content?: AsyncIterable<Buffer>;
  /**
   * Hands back a chunk read from `content` once nothing refers to it any more (no view of its bytes
   * either): the archive then reuses its memory for a later block, and any view still held would
   * find it gone (empty). Optional: a chunk never handed back is left to the garbage collector.
   */
  release?: (chunk: Buffer) => void;
}
