/** What the repository needs of a store, and reading a stored file whole. */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AzsError } from '../protocol/errors.js';
import type { BackupStore } from '../storage/store.js';

/** Paths from the store's root ('MASBackup/Repository/…'). A BackupStore is one. */
export type RepositoryFiles = Pick<BackupStore, 'readFile' | 'list'>;

/** A stored file's bytes, refused (BackupCorrupt) past `limit` or when its SHA-256 is not `sha256`. */
export async function readWhole(
  files: RepositoryFiles,
  path: string,
  sha256: string,
  limit: number,
  onBytes: (bytes: number) => void = () => undefined,
): Promise<Buffer> {
  const stream: Readable = await files.readFile(path);
  const parts: Buffer[] = [];
  const hash = createHash('sha256');
  let length = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > limit)
        throw damagedFile(path, `it is longer than ${limit} bytes, more than the repository writes`);
      hash.update(chunk);
      parts.push(chunk);
      onBytes(chunk.length);
    }
  } finally {
    stream.destroy();
  }
  if (hash.digest('hex') !== sha256) throw damagedFile(path, 'its SHA-256 is not the one its name says');
  return Buffer.concat(parts, length);
}

export function damagedFile(path: string, problem: string): AzsError {
  return new AzsError('BackupCorrupt', `${path}: ${problem}`, { target: path });
}
