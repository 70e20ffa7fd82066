/**
 * Checks of stored files: against the manifest (size and SHA-256, counted as the file is read), and a file just written, read back
 * and compared with what was written (size and CRC-32) before the manifest records its SHA-256.
 */
import type { FileDigest } from '../util/fileDigest.js';

export interface StoredFileExpectation {
  Size: number;
  Sha256: string;
}

/** Null when a stored file's bytes are the ones its manifest records; otherwise what differs, as a sentence fragment for an operator. */
export function storedFileProblem(
  { size, sha256 }: Pick<FileDigest, 'size' | 'sha256'>,
  expected: StoredFileExpectation,
): string | null {
  if (size !== expected.Size) return `it is ${size} bytes long, but BackupInfo.json records ${expected.Size}`;
  if (sha256 !== expected.Sha256.toLowerCase())
    return 'its SHA-256 differs from the one BackupInfo.json records';
  return null;
}

/** What the writer counted of a file it stored. */
export interface WrittenFile {
  size: number;
  crc32: number;
}

/** A file read back: its SHA-256 (for the manifest) when it is what was written, else what differs. */
export type ReadBack = { sha256: string } | { problem: string };

/** A file read back (BackupStore.digest) compared with what the writer counted of it. */
export function compareReadBack(digest: FileDigest, written: WrittenFile): ReadBack {
  if (digest.size !== written.size)
    return { problem: `it is ${digest.size} bytes long, but ${written.size} were written` };
  if (digest.crc32 !== written.crc32) return { problem: 'its bytes differ from the ones written (CRC-32)' };
  return { sha256: digest.sha256 };
}
