/**
 * The local folder store's read-back (BackupStore.digest): a stored file read in a worker thread,
 * hashing each chunk while the next one is read, so that the main thread, which feeds every role's
 * data, does none of the reading and hashing. Unbuffered where possible, so that what is read is what
 * reached the device (see directIo.ts); buffered when the store is told to, or where O_DIRECT is
 * refused. Like readFile, it reads only a regular file and never through a link as the last name
 * (the store checks the folders on the way before it asks).
 */
import { closeSync, constants, fstatSync, openSync, read } from 'node:fs';
import { promisify } from 'node:util';
import { type FileDigest, FileDigester } from '../util/fileDigest.js';
import { NotARegularFile, kindOf } from '../util/regularFile.js';
import { WorkerPool } from '../util/workerPool.js';
import { giveAlignedBuffer, openDirectForReadingSync, takeAlignedBuffer } from '../util/directIo.js';

export interface DigestRequest {
  id: number;
  file: string;
  /** Read with O_DIRECT where the platform and file system allow it. */
  direct: boolean;
}

/** The digest, or why there is none: the file system's error code, or what stands there instead. */
export type DigestReply =
  | { id: number; digest: FileDigest }
  | { id: number; error: string; code: string | undefined; kind: string | undefined };

const READ_CHUNK = 1024 * 1024;
/** Never blocks on a FIFO, never follows a link as the last name (where the platform has the flags). */
const SAFE_READ = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0);
const readInto = promisify(read);

/**
 * One thread runs every digest at once: each waits for its reads in libuv's pool, and hashing a
 * backup's stored bytes takes that thread well under a second (SHA-256 at 1.7 GB/s), so a second
 * thread would only add its memory (about 10 MB) to the daemon's peak.
 */
const DIGEST_THREADS = 1;
let pool: WorkerPool<DigestRequest, DigestReply> | undefined;

/**
 * A local file's size, SHA-256 and CRC-32, computed in a worker thread. Fails with NotARegularFile,
 * or with the file system's error (its `code`: ENOENT, EACCES, ELOOP for a link…).
 */
export async function digestLocalFile(file: string, options: { direct: boolean }): Promise<FileDigest> {
  pool ??= new WorkerPool(new URL('./digestWorker.js', import.meta.url), DIGEST_THREADS);
  const reply = await pool.submit({ file, direct: options.direct });
  if ('digest' in reply) return reply.digest;
  if (reply.kind !== undefined) throw new NotARegularFile(file, reply.kind);
  throw Object.assign(new Error(reply.error), { code: reply.code });
}

/** The worker's side of digestLocalFile. */
export async function answerDigest(request: DigestRequest): Promise<DigestReply> {
  try {
    return { id: request.id, digest: await readDigest(request.file, request.direct) };
  } catch (error) {
    const { message, code } = error as NodeJS.ErrnoException;
    const kind = error instanceof NotARegularFile ? error.kind : undefined;
    return { id: request.id, error: message, code, kind };
  }
}

async function readDigest(file: string, allowDirect: boolean): Promise<FileDigest> {
  const digester = new FileDigester();
  const { fd, direct } = openSafely(file, allowDirect);
  checkRegularFile(fd, file);
  const buffers = !direct
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
    if (direct) buffers.forEach(giveAlignedBuffer);
  }
  return digester.result();
}

function openSafely(file: string, allowDirect: boolean): { fd: number; direct: boolean } {
  try {
    const direct = allowDirect ? openDirectForReadingSync(file, SAFE_READ) : null;
    return direct === null ? { fd: openSync(file, SAFE_READ), direct: false } : { fd: direct, direct: true };
  } catch (error) {
    // O_NOFOLLOW on a link fails with ELOOP (EMLINK on some BSDs).
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'EMLINK') throw new NotARegularFile(file, 'a symbolic link');
    throw error;
  }
}

/** From the descriptor's own fstat, so nothing can be swapped in between the check and the reads. */
function checkRegularFile(fd: number, file: string): void {
  const stats = fstatSync(fd);
  if (stats.isFile()) return;
  closeSync(fd);
  throw new NotARegularFile(file, kindOf(stats));
}

async function readAt(fd: number, buffer: Buffer, position: number): Promise<number> {
  const { bytesRead } = await readInto(fd, buffer, 0, buffer.length, position);
  return bytesRead;
}
