/**
 * Reads a stream of buffers by byte counts (headers of a known size, content of a known length)
 * without copying more than a header needs.
 */
const EMPTY = Buffer.alloc(0);

export class ByteReader {
  private current: Buffer = EMPTY;
  private ended = false;
  private readonly source: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer>) {
    this.source = source[Symbol.asyncIterator]();
  }

  /** Between 1 and `max` bytes (a view, not a copy), or null at the end of the source. */
  async readSome(max: number): Promise<Buffer | null> {
    if (!(await this.fill())) return null;
    const taken = this.current.subarray(0, max);
    this.current = this.current.subarray(taken.length);
    return taken;
  }

  /** Exactly `length` bytes, or fewer when the source ends first (empty when it had already ended). */
  async readExactly(length: number): Promise<Buffer> {
    if (length === 0) return EMPTY;
    if (this.current.length >= length) return (await this.readSome(length))!;
    const parts = await this.readParts(length);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Like readExactly, but always in a fresh buffer that shares memory with nothing else. */
  async readCopy(length: number): Promise<Buffer> {
    return Buffer.concat(await this.readParts(length));
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  /** Stops the source early (closing the stream under it). */
  async close(): Promise<void> {
    this.current = EMPTY;
    if (!this.ended) {
      this.ended = true;
      await this.source.return?.();
    }
  }

  private async readParts(length: number): Promise<Buffer[]> {
    const parts: Buffer[] = [];
    for (let missing = length; missing > 0;) {
      const part = await this.readSome(missing);
      if (!part) break;
      parts.push(part);
      missing -= part.length;
    }
    return parts;
  }

  /** Makes sure some bytes are buffered; false at the end of the source. */
  private async fill(): Promise<boolean> {
    while (this.current.length === 0) {
      if (this.ended) return false;
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      this.current = next.value;
    }
    return true;
  }
}
