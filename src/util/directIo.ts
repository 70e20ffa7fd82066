/**
 * Unbuffered (O_DIRECT) file I/O for stored backup files, where the platform and file system allow
 * it. A backup is written once and not read again soon: through the page cache it would push the
 * services' own cached data out of memory, and on the 2-core test machine copying 400 MiB into page
 * cache memory took 0.9–1.1 s, against 0.13 s written straight to the device (docs/benchmarks.md).
 * Reading a file back unbuffered also checks what reached the device, not a copy in memory.
 *
 * O_DIRECT needs the buffer's address, the file offset and the length aligned to the device's block.
 * Node cannot align a Buffer, but WebAssembly memory is page-aligned, so the buffers live there.
 * Node on Windows and macOS has no O_DIRECT: there (and on file systems that refuse it) the callers
 * use buffered I/O. Only the Linux side is tested on our machines (docs/platforms.md).
 */
import { constants, openSync } from 'node:fs';
import { type FileHandle, open, rm } from 'node:fs/promises';

/** Offsets and lengths of unbuffered I/O are multiples of this (the largest common device block). */
export const DIRECT_ALIGNMENT = 4096;
/** Bytes per unbuffered read or write. */
export const DIRECT_CHUNK_BYTES = 2 * 1024 * 1024;
const WASM_PAGE_BYTES = 64 * 1024;
/** Buffers kept for reuse: each writer holds two, and a few roles are written at once. */
const KEPT_BUFFERS = 8;

/** Node's global WebAssembly, which the TypeScript libraries used here do not declare. */
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum: number }) => { buffer: ArrayBuffer };
};

const O_DIRECT: number | undefined = (constants as Record<string, number | undefined>).O_DIRECT;
const free: Buffer[] = [];

/** A page-aligned buffer of DIRECT_CHUNK_BYTES; give it back when done. */
export function takeAlignedBuffer(): Buffer {
  const kept = free.pop();
  if (kept) return kept;
  const pages = DIRECT_CHUNK_BYTES / WASM_PAGE_BYTES;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  return Buffer.from(memory.buffer, 0, DIRECT_CHUNK_BYTES);
}

export function giveAlignedBuffer(buffer: Buffer): void {
  if (free.length < KEPT_BUFFERS) free.push(buffer);
}

export function alignUp(length: number): number {
  return Math.ceil(length / DIRECT_ALIGNMENT) * DIRECT_ALIGNMENT;
}

/** Whether a failed open means "no O_DIRECT here" (the file system refuses it), not a real failure. */
function refusesDirectIo(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'EINVAL';
}

/** A new file (it must not exist) opened for unbuffered writing, or null where that is not possible. */
export async function createDirect(file: string): Promise<FileHandle | null> {
  if (O_DIRECT === undefined) return null;
  try {
    return await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_DIRECT, 0o666);
  } catch (error) {
    if (!refusesDirectIo(error)) throw error;
    await rm(file, { force: true }); // Linux creates the file before it finds that O_DIRECT is refused
    return null;
  }
}

/** A file descriptor for unbuffered reading, or null where that is not possible. */
export function openDirectForReadingSync(file: string): number | null {
  if (O_DIRECT === undefined) return null;
  try {
    return openSync(file, constants.O_RDONLY | O_DIRECT);
  } catch (error) {
    if (refusesDirectIo(error)) return null;
    throw error;
  }
}
