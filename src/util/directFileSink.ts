/**
 * Filling a new file through an unbuffered handle (see directIo.ts): bytes gather in an aligned
 * buffer, and each full buffer is written at its offset while the next one fills. At the end the
 * last buffer is padded to the alignment and written, and the file cut back to its true length.
 * DirectFileWriter does that for callers that hand it content themselves (the tree writer's large
 * files); DirectFileSink is the same as a Writable that also makes the file durable (fdatasync), so a
 * finished stream means a file on the device. Like fs.WriteStream, it closes its handle when it is
 * done or destroyed.
 */
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { DIRECT_ALIGNMENT, alignUp, giveAlignedBuffer, takeAlignedBuffer } from './directIo.js';

export class DirectFileWriter {
  bytesWritten = 0;
  /** The buffer filling now; taken on the first byte after the previous one went to be written. */
  private buffer: Buffer | null = null;
  private filled = 0;
  private position = 0;
  /** The write of the previous buffer: at most one at a time, while the next buffer fills. */
  private inFlight: Promise<void> = Promise.resolve();

  constructor(private readonly handle: FileHandle) {}

  /** Copies `data` in, writing each buffer that fills (the copy lets the caller reuse `data`). */
  async append(data: Buffer): Promise<void> {
    for (let offset = 0; offset < data.length;) {
      const buffer = (this.buffer ??= takeAlignedBuffer());
      const copied = data.copy(buffer, this.filled, offset);
      this.filled += copied;
      offset += copied;
      if (this.filled === buffer.length) await this.writeBuffer();
    }
    this.bytesWritten += data.length;
  }

  /** Writes what is left (padded) and cuts the file back to the bytes appended; not flushed. */
  async end(): Promise<void> {
    if (this.filled > 0) await this.writeBuffer();
    await this.inFlight;
    this.release();
    if (this.position !== this.bytesWritten) await this.handle.truncate(this.bytesWritten);
  }

  /** Waits for a write in flight (its failure ignored) and gives the buffers back; for abandoning. */
  async settle(): Promise<void> {
    await this.inFlight.catch(() => undefined);
    this.release();
  }

  /** Starts writing the current buffer (padded to the alignment) once the previous write is done. */
  private async writeBuffer(): Promise<void> {
    await this.inFlight;
    const buffer = this.buffer!;
    const length = alignUp(this.filled);
    buffer.fill(0, this.filled, length);
    const position = this.position;
    this.position += length;
    this.buffer = null;
    this.filled = 0;
    this.inFlight = writeAll(this.handle, buffer.subarray(0, length), position).finally(() =>
      giveAlignedBuffer(buffer),
    );
    this.inFlight.catch(() => undefined); // seen by the next await of it
  }

  private release(): void {
    if (this.buffer) giveAlignedBuffer(this.buffer);
    this.buffer = null;
  }
}

export class DirectFileSink extends Writable {
  private readonly writer: DirectFileWriter;

  constructor(private readonly handle: FileHandle) {
    super({ highWaterMark: 1024 * 1024 });
    this.writer = new DirectFileWriter(handle);
  }

  get bytesWritten(): number {
    return this.writer.bytesWritten;
  }

  override _write(data: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writer.append(data).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.writer
      .end()
      .then(() => this.handle.datasync())
      .then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.writer
      .settle()
      .then(() => this.handle.close())
      .then(
        () => callback(error),
        (closeError: Error) => callback(error ?? closeError),
      );
  }
}

/**
 * Writes all of `data` at `position`. A regular file only takes fewer bytes than asked when its
 * device or quota is full, which is reported as such.
 */
async function writeAll(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let offset = 0; offset < data.length;) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset, position + offset);
    offset += bytesWritten;
    if (bytesWritten === 0 || offset % DIRECT_ALIGNMENT !== 0) throw noSpace();
  }
}

function noSpace(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
}
