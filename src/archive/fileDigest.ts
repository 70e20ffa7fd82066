/**
 * What the engine knows of a stored file's bytes: its length, SHA-256 (what the manifest records)
 * and CRC-32 (what a file read back is compared with, at 4.7 GB/s a core where SHA-256 runs at 1.7).
 */
import { type Hash, createHash } from 'node:crypto';
import { closeSync, openSync, read } from 'node:fs';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { giveAlignedBuffer, openDirectForReadingSync, takeAlignedBuffer } from '../util/directIo.js';

export interface FileDigest {
  size: number;
  /** Lower-case hex. */
  sha256: string;
  crc32: number;
}

const READ_CHUNK = 1024 * 1024;
const readInto = promisify(read);

class FileDigester {
  private readonly hash: Hash = createHash('sha256');
  private size = 0;
  private crc = 0;

  update(data: Uint8Array): void {
    this.hash.update(data);
    this.crc = crc32(data, this.crc);
    this.size += data.length;
  }

  result(): FileDigest {
    return { size: this.size, sha256: this.hash.digest('hex'), crc32: this.crc };
  }
}

/** Reads `stream` to its end, one chunk held at a time. */
export async function digestStream(stream: Readable): Promise<FileDigest> {
  const digester = new FileDigester();
  for await (const chunk of stream as AsyncIterable<Buffer>) digester.update(chunk);
  return digester.result();
}

/**
 * Reads a local file (a block pool thread does, off the main thread), hashing each chunk while the
 * next one is read: unbuffered where possible, so that what is read is what reached the device (see
 * util/directIo.ts).
 */
export async function digestFile(file: string): Promise<FileDigest> {
  const digester = new FileDigester();
  const direct = openDirectForReadingSync(file);
  const fd = direct ?? openSync(file, 'r');
  const buffers =
    direct === null
      ? [Buffer.allocUnsafe(READ_CHUNK), Buffer.allocUnsafe(READ_CHUNK)]
      : [takeAlignedBuffer(), takeAlignedBuffer()];
  let pending = readAt(fd, buffers[0]!, 0);
  try {
    for (let turn = 0, position = 0; ; turn++) {
      const current = buffers[turn % 2]!;
      const count = await pending;
      position += count;
      // A short read is the end of a regular file; reading on from an unaligned end could fail.
      const atEnd = count < current.length;
      if (!atEnd) pending = readAt(fd, buffers[(turn + 1) % 2]!, position);
      digester.update(current.subarray(0, count));
      if (atEnd) break;
    }
  } finally {
    await pending.catch(() => undefined); // the descriptor and buffers stay until no read uses them
    closeSync(fd);
    if (direct !== null) buffers.forEach(giveAlignedBuffer);
  }
  return digester.result();
}

async function readAt(fd: number, buffer: Buffer, position: number): Promise<number> {
  const { bytesRead } = await readInto(fd, buffer, 0, buffer.length, position);
  return bytesRead;
}
