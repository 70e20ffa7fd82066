/** Shared by the archive tests: entries to archive, archives in memory, and a frame-level view of them. */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ArchiveEntry, EntryHeader } from '../../src/archive/entry.js';
import {
  ROLE_FILE_VERSION,
  readRoleArchive,
  writeRoleArchive,
  type ArchiveSummary,
} from '../../src/archive/index.js';

export const FILE_ID = 'Domain/Domain.azsb';
export const key = randomBytes(32);

export function file(path: string, content: Buffer, mode = 0o644): ArchiveEntry {
  return {
    path,
    type: 'file',
    mode,
    mtimeMs: 1_700_000_000_123,
    size: content.length,
    content: () => Readable.from([content]),
  };
}

export function directory(path: string, mode = 0o755): ArchiveEntry {
  return { path, type: 'directory', mode, mtimeMs: 1_600_000_000_000, size: 0 };
}

export function symlink(path: string, linkTarget: string): ArchiveEntry {
  return { path, type: 'symlink', mode: 0o777, mtimeMs: 1_650_000_000_000, size: 0, linkTarget };
}

export async function* iterate<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

/** Bytes that zstd shrinks a lot: repeated, slightly varied text. */
export function compressible(bytes: number): Buffer {
  const line = Buffer.from(
    '{"subscription":"00000000-0000-0000-0000-000000000000","state":"Enabled","quota":1234}\n',
  );
  const out = Buffer.alloc(bytes);
  for (let offset = 0; offset < bytes; offset += line.length) line.copy(out, offset);
  for (let offset = 0; offset < bytes; offset += 4096) out[offset] = offset % 251;
  return out;
}

export async function writeToBuffer(
  entries: Iterable<ArchiveEntry>,
  options: { blockSize?: number; fileId?: string; archiveKey?: Buffer } = {},
): Promise<{ stored: Buffer; summary: ArchiveSummary }> {
  const { stream, summary } = writeRoleArchive(iterate(entries), {
    key: options.archiveKey ?? key,
    fileId: options.fileId ?? FILE_ID,
    blockSize: options.blockSize,
  });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return { stored: Buffer.concat(chunks), summary: await summary };
}

/** How a test reads a role file: another id or key than the fixtures', or an older format. */
export interface ReadOptions {
  fileId?: string;
  archiveKey?: Buffer;
  formatVersion?: number;
}

export interface ReadEntry extends EntryHeader {
  data?: Buffer;
}

/**
 * Reads every entry and its content. On failure the error is returned with what had been delivered,
 * so tests can check that nothing wrong was ever handed out.
 */
export async function readAll(
  stored: Buffer | Readable,
  options: ReadOptions = {},
): Promise<{ entries: ReadEntry[]; error?: unknown }> {
  const source = Buffer.isBuffer(stored) ? Readable.from(splitEvery(stored, 65_536)) : stored;
  const entries: ReadEntry[] = [];
  try {
    for await (const entry of readRoleArchive(source, {
      key: options.archiveKey ?? key,
      fileId: options.fileId ?? FILE_ID,
      formatVersion: options.formatVersion ?? ROLE_FILE_VERSION,
    })) {
      const read: ReadEntry = { ...entry };
      delete (read as { content?: unknown }).content;
      delete (read as { release?: unknown }).release;
      entries.push(read);
      if (entry.content) {
        const parts: Buffer[] = [];
        try {
          for await (const part of entry.content) parts.push(part);
        } finally {
          read.data = Buffer.concat(parts);
        }
      }
    }
    return { entries };
  } catch (error) {
    return { entries, error };
  }
}

/** A buffer as a stream of pieces, as a store delivers it. */
export function splitEvery(data: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += size) parts.push(data.subarray(offset, offset + size));
  return parts;
}

/** A stored role file cut at its frame boundaries (docs/format.md): the file header, then each frame. */
export function splitFrames(stored: Buffer): { header: Buffer; frames: Buffer[] } {
  const frames: Buffer[] = [];
  let offset = 32;
  while (offset < stored.length) {
    const length = 12 + stored.readUInt32BE(offset + 4) + 16;
    frames.push(stored.subarray(offset, offset + length));
    offset += length;
  }
  return { header: stored.subarray(0, 32), frames };
}
