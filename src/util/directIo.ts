/**
 * Unbuffered (O_DIRECT) file I/O, where the platform and file system allow it: stored backup files,
 * and the large files a restore writes. A backup is written once and not read again soon: through the page cache it would push the
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
/**
 * Buffers cut from one WebAssembly memory. Each memory reserves gigabytes of address space for V8's
 * guard regions (not memory: only touched pages count), so a few large memories are cut into many
 * buffers rather than one memory made per buffer. A writer holds two buffers and a read-back two,
 * and a few roles are written at once: one memory usually serves a thread for its whole life.
 */
const BUFFERS_PER_MEMORY = 8;

/** Node's global WebAssembly, which the TypeScript libraries used here do not declare. */
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum: number }) => { buffer: ArrayBuffer };
};

const O_DIRECT: number | undefined = (constants as Record<string, number | undefined>).O_DIRECT;
/** This thread's buffers not in use (a memory cannot be given back in part, so all are kept). */
const free: Buffer[] = [];

/** A page-aligned buffer of DIRECT_CHUNK_BYTES; give it back (once) when done. */
export function takeAlignedBuffer(): Buffer {
  if (free.length === 0) {
    const pages = (BUFFERS_PER_MEMORY * DIRECT_CHUNK_BYTES) / WASM_PAGE_BYTES;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    for (let index = BUFFERS_PER_MEMORY - 1; index >= 0; index--)
      free.push(Buffer.from(memory.buffer, index * DIRECT_CHUNK_BYTES, DIRECT_CHUNK_BYTES));
  }
  return free.pop()!;
}

export function giveAlignedBuffer(buffer: Buffer): void {
  free.push(buffer);
}

export function alignUp(length: number): number {
  return Math.ceil(length / DIRECT_ALIGNMENT) * DIRECT_ALIGNMENT;
}

/** Whether a failed open means "no O_DIRECT here" (the file system refuses it), not a real failure. */
function refusesDirectIo(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'EINVAL';
}

/**
 * A new file (it must not exist, and a link in its place is not followed) opened for unbuffered
 * writing with `mode`, or null where that is not possible.
 */
export async function createDirect(file: string, mode = 0o666): Promise<FileHandle | null> {
  if (O_DIRECT === undefined) return null;
  try {
    return await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_DIRECT, mode);
  } catch (error) {
    if (!refusesDirectIo(error)) throw error;
    await rm(file, { force: true }); // Linux creates the file before it finds that O_DIRECT is refused
    return null;
  }
}

/**
 * A file descriptor for unbuffered reading (opened with `flags`, which hold O_RDONLY, and O_DIRECT),
 * or null where that is not possible.
 */
export function openDirectForReadingSync(file: string, flags: number): number | null {
  if (O_DIRECT === undefined) return null;
  try {
    return openSync(file, flags | O_DIRECT);
  } catch (error) {
    if (refusesDirectIo(error)) return null;
    throw error;
  }
}
