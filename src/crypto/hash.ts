/** SHA-256 over streams, as the manifest records every stored file. */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

export interface StreamDigest {
  size: number;
  /** Lower-case hex. */
  sha256: string;
}

/** Reads `stream` to its end and returns its length and SHA-256; holds one chunk at a time. */
export async function hashStream(stream: Readable): Promise<StreamDigest> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: hash.digest('hex') };
}
