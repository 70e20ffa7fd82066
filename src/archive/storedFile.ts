/**
 * Checking a stored file against the manifest without the .pfx: its size and SHA-256. This is what
 * Test-AzsBackup does when no decryption certificate is given.
 */
import type { Readable } from 'node:stream';
import { hashStream } from '../crypto/hash.js';

export interface StoredFileExpectation {
  Size: number;
  Sha256: string;
}

/** Null when the stream matches; otherwise what differs, as a sentence fragment for an operator. */
export async function verifyStoredFile(
  stream: Readable,
  expected: StoredFileExpectation,
): Promise<string | null> {
  const { size, sha256 } = await hashStream(stream);
  if (size !== expected.Size) return `it is ${size} bytes long, but BackupInfo.json records ${expected.Size}`;
  if (sha256 !== expected.Sha256.toLowerCase())
    return 'its SHA-256 differs from the one BackupInfo.json records';
  return null;
}
