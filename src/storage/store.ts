/**
 * The external store contract. Every backend (local folder, SMB share, blob container) implements it; retries,
 * validation probes and alert mapping are built on top of it, never inside a backend. The one
 * conformance suite in test/unit/storeConformance.ts runs against every backend.
 *
 * Paths are relative to the store's root and use '/' separators whatever the platform. Failures are
 * AzsErrors whose reason says which alert they belong to: PathNotFound (the root or a parent is
 * missing), ShareUnreachable (connectivity; transient), AuthenticationFailed, StoreFull,
 * StoreAccessDenied, StoreFault (anything else).
 *
 * Folders: on a blob container they are name prefixes (an empty one is kept by a zero-length marker
 * blob whose name ends in '/'). There is no rename: nothing above the stores moves a stored file or
 * folder, and a blob container could only copy and delete, which is not atomic.
 */
import type { Readable } from 'node:stream';
import type { FileDigest } from '../util/fileDigest.js';

export interface StoreEntry {
  name: string;
  /**
   * 'other' is anything that is neither a plain file nor a folder: a symbolic link, a junction or
   * other reparse point, a FIFO, a device, a socket. A store never follows, reads or descends into
   * one; remove() removes the entry itself.
   */
  type: 'file' | 'directory' | 'other';
  size: number;
  modified: Date;
}

export interface Capacity {
  availableBytes: number;
  totalBytes: number;
}

/** What the connection to the store negotiated, for Test-AzsBackupShareAccessibility. */
export interface SessionInfo {
  protocol: string;
  encrypted: boolean;
  signed: boolean;
}

export interface BackupStore {
  /** Where the store is, as the operator wrote it; never holds a secret. */
  readonly location: string;
  /** Checks that the root folder exists and can be reached (authenticating where that applies). */
  checkRoot(): Promise<void>;
  /** Creates a folder and its missing parents; succeeds when it exists. */
  mkdir(relativePath: string): Promise<void>;
  /**
   * Streams `source` into a file that appears under its name only once complete, whole or not at
   * all. A folder or share writes a temporary name beside it and renames it at the end; a blob
   * container never renames: it stages the data as uncommitted blocks (invisible to every reader and
   * listing) and commits the block list in one request, which makes the new blob appear, or replace
   * an earlier one, at once (uncommitted blocks are dropped by the service after a week). A failure
   * removes the temporary file where it can and leaves any earlier file of that name untouched.
   * Returns the bytes written. When `source` itself fails, that error is passed on as it is (it is
   * not the store's fault, so not mapped).
   */
  writeFile(relativePath: string, source: Readable): Promise<number>;
  /**
   * A stream of a file's content. Missing file: PathNotFound. A link, or anything else that is not
   * a plain file, in its place or on the way to it: StorePathUnsafe (nothing is read through it).
   */
  readFile(relativePath: string): Promise<Readable>;
  /**
   * Reads a stored file back to its end and gives its length, SHA-256 and CRC-32: what a backup
   * compares with what it wrote before the manifest records the file. Read from where the store
   * keeps the file, not from a copy the store may hold in memory where it can avoid one (a local
   * folder reads unbuffered, see docs/storage.md), and off the main thread where the backend can.
   * Failures as readFile's: a missing file is PathNotFound, a link or other non-file
   * StorePathUnsafe.
   */
  digest(relativePath: string): Promise<FileDigest>;
  /** The entries of a folder; a missing folder has none. */
  list(relativePath: string): Promise<StoreEntry[]>;
  /** One entry, or null when nothing has that name. */
  stat(relativePath: string): Promise<StoreEntry | null>;
  /**
   * Removes a file or a whole folder tree; succeeds when nothing has that name. A link is removed
   * as the link, never its target; a path that leads through a link is refused (StorePathUnsafe).
   */
  remove(relativePath: string): Promise<void>;
  /**
   * The room on the store, or null when the store cannot tell: a blob container has no fixed size,
   * and the service tells no one its account's free space.
   */
  capacity(): Promise<Capacity | null>;
  /** Protocol facts of the connection, or null for a store that has no session (a local folder). */
  sessionInfo(): Promise<SessionInfo | null>;
  /** Ends any session; the store may not be used afterwards. */
  close(): Promise<void>;
}

/** Where a store is and how to log on to it: the saved configuration's view of a store. */
export interface StoreSettings {
  path: string;
  userName: string | null;
  password: string | null;
  requireEncryption: boolean;
}
