/**
 * Reads a stream of buffers by byte counts (headers of a known size, content of a known length)
 * without copying more than a header needs.
 */
const EMPTY = Buffer.alloc(0);

export class ByteReader {
  private current: Buffer = EMPTY;
  /** The source chunk `current` is the rest of. */
  private chunk: Buffer = EMPTY;
  private ended = false;
  private readonly source: AsyncIterator<Buffer>;

  /**
   * `onPassed` learns of each source chunk the reader has moved past (before it asks for the next
   * one): the reader keeps no view of it any more, only the views it gave out do.
   */
  constructor(
    source: AsyncIterable<Buffer>,
    private readonly onPassed: (chunk: Buffer) => void = () => undefined,
  ) {
    this.source = source[Symbol.asyncIterator]();
  }

  /**
   * Between 1 and `max` bytes (a view, not a copy), or null at the end of the source. The view is
   * valid until the next read unless the caller keeps its source chunk from being reused.
   */
  async readSome(max: number): Promise<Buffer | null> {
    if (!(await this.fill())) return null;
    const taken = this.current.subarray(0, max);
    this.current = this.current.subarray(taken.length);
    return taken;
  }

  /**
   * Exactly `length` bytes, or fewer when the source ends first (empty when it had already ended):
   * a view when the current chunk holds them all, a copy otherwise. Use it before the next read.
   */
  async readExactly(length: number): Promise<Buffer> {
    if (length === 0) return EMPTY;
    if (this.current.length >= length) return (await this.readSome(length))!;
    const copy = Buffer.allocUnsafe(length);
    return copy.subarray(0, await this.readInto(copy));
  }

  /** Fills `target` (copying, chunk by chunk); returns how many bytes it got, fewer at the source's end. */
  async readInto(target: Buffer): Promise<number> {
    let filled = 0;
    while (filled < target.length) {
      const part = await this.readSome(target.length - filled);
      if (!part) break;
      filled += part.copy(target, filled);
    }
    return filled;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  /** Stops the source early (closing the stream under it). */
  async close(): Promise<void> {
    this.current = EMPTY;
    this.chunk = EMPTY;
    if (!this.ended) {
      this.ended = true;
      await this.source.return?.();
    }
  }

  /** Makes sure some bytes are buffered; false at the end of the source. */
  private async fill(): Promise<boolean> {
    while (this.current.length === 0) {
      if (this.chunk !== EMPTY) this.onPassed(this.chunk);
      this.chunk = EMPTY;
      if (this.ended) return false;
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      this.current = this.chunk = next.value;
    }
    return true;
  }
}
