/**
 * The record layer of a role file: entries as a plain byte stream (docs/format.md, "Records").
 * Each entry is a record type byte, a length-prefixed JSON header and, for a file, its content (in
 * format version 1 followed by the SHA-256 of that content); an end record with the totals closes
 * the stream.
 */
import { type Hash, createHash } from 'node:crypto';
import { AzsError } from '../protocol/errors.js';
import {
  type ArchiveEntry,
  type EntryHeader,
  type EntryType,
  type ExtractedEntry,
  openedEntry,
} from './entry.js';
import { ByteReader } from './byteReader.js';
import { BlockBuffers, BlockFiller, type PlainBlock, PlaintextBuffers } from './sealedBlocks.js';
import { SymlinkGuard, entryPathProblem } from './entryPath.js';
import { damaged } from './roleFileFormat.js';

const RECORD_END = 0;
const RECORD_ENTRY = 1;
const RECORD_PREFIX_BYTES = 5;
const MAX_HEADER_BYTES = 1024 * 1024;
const HASH_BYTES = 32;
/** uid_t and gid_t are 32 bits; (uid_t)-1 means "no change" to chown, so it is no owner. */
const MAX_OWNER_ID = 0xfffffffe;
const ENTRY_TYPES: readonly EntryType[] = ['file', 'directory', 'symlink'];

/** Totals of an archive, counted while writing and checked against the end record when reading. */
export interface RecordCounts {
  entries: number;
  files: number;
  sourceBytes: number;
}

/**
 * Encodes records into one buffer reused for every record of an archive (the filler copies each one
 * at once): tens of thousands of small files otherwise cost three short-lived Buffers apiece.
 */
class RecordEncoder {
  private scratch = Buffer.allocUnsafeSlow(4096);

  /** The record, valid until the next call. */
  encode(type: number, header: object): Buffer {
    const json = JSON.stringify(header);
    const bound = RECORD_PREFIX_BYTES + 3 * json.length; // UTF-8 takes at most 3 bytes per UTF-16 unit
    if (this.scratch.length < bound) this.scratch = Buffer.allocUnsafeSlow(bound);
    const length = this.scratch.write(json, RECORD_PREFIX_BYTES, 'utf8');
    this.scratch.writeUInt8(type, 0);
    this.scratch.writeUInt32BE(length, 1);
    return this.scratch.subarray(0, RECORD_PREFIX_BYTES + length);
  }
}

/** Why a header cannot be stored or restored, or null when it is sound. */
function headerProblem(header: EntryHeader): string | null {
  const pathProblem = typeof header.path === 'string' ? entryPathProblem(header.path) : 'the path is missing';
  if (pathProblem) return pathProblem;
  if (!ENTRY_TYPES.includes(header.type)) return `'${String(header.type)}' is not an entry type`;
  if (!Number.isInteger(header.mode) || header.mode < 0 || header.mode > 0o7777)
    return 'the mode is not a permission mask';
  if (!Number.isFinite(header.mtimeMs)) return 'the modification time is not a number';
  if (!Number.isSafeInteger(header.size) || header.size < 0) return 'the size is not a byte count';
  if (header.type !== 'file' && header.size !== 0) return `a ${header.type} has no content but a size`;
  const isLink = header.type === 'symlink';
  if (
    isLink &&
    (typeof header.linkTarget !== 'string' || header.linkTarget === '' || header.linkTarget.includes('\0'))
  ) {
    return 'the symbolic link has no valid target';
  }
  if (!isLink && header.linkTarget !== undefined) return `a ${header.type} has a link target`;
  return ownerProblem(header);
}

/** Owners are optional (format version 3 writes them), but both or neither, and each a 32-bit id. */
function ownerProblem(header: EntryHeader): string | null {
  if (header.uid === undefined && header.gid === undefined) return null;
  const isId = (id: unknown) => Number.isInteger(id) && (id as number) >= 0 && (id as number) <= MAX_OWNER_ID;
  return isId(header.uid) && isId(header.gid)
    ? null
    : 'the owner is not a pair of numeric user and group ids';
}

/** Only the fields of EntryHeader, in a fixed order: what is stored, and what is given back. */
function headerOf(source: EntryHeader): EntryHeader {
  const header: EntryHeader = {
    path: source.path,
    type: source.type,
    mode: source.mode,
    mtimeMs: source.mtimeMs,
    size: source.size,
  };
  if (source.linkTarget !== undefined) header.linkTarget = source.linkTarget;
  if (source.uid !== undefined) header.uid = source.uid;
  if (source.gid !== undefined) header.gid = source.gid;
  return header;
}

function unusable(entry: EntryHeader, detail: string): AzsError {
  return new AzsError(
    'RoleFailed',
    `The role's entry '${String(entry.path)}' cannot be backed up: ${detail}. Run the backup again; if it fails again, check what the role's provider reads there.`,
    { target: String(entry.path) },
  );
}

/** An entry of a span and its encoded header (a copy of its own). */
export interface SpanRecord {
  entry: ArchiveEntry;
  record: Buffer;
}

/**
 * Runs of records a consumer keeps apart from the rest of the stream (format 4's file cache): a
 * large file's record on its own, and groups of entries that need no reading to be listed (folders,
 * links, files not opened yet: ArchiveEntry.open). Each call gives the offset in the stream where
 * the span starts or ends; the blocks are not cut there (the consumer cuts its chunks there).
 */
export interface RecordBounds {
  /** Whether an entry read at once (it has no `open`) is a span of its own. */
  apart(entry: ArchiveEntry): boolean;
  /** Whether the group gathered so far (its last entry just added) ends here. */
  groupEnds(group: readonly SpanRecord[]): boolean;
  /**
   * A span starts at `offset`; its records are its entries' as listed. True when the consumer
   * already holds the span's bytes (it places them itself): then nothing of it is opened, read or
   * written, and its entries still count.
   */
  starting(span: readonly SpanRecord[], offset: number): boolean;
  /**
   * A span ended at `offset`; its records are as stored (an entry opened since it was listed may
   * have changed, or be gone).
   */
  ended(span: readonly SpanRecord[], offset: number): void;
}

/**
 * The record stream of `entries`, cut into blocks: each record and each file's content is copied
 * once, straight into its block. Counts the entries into `counts` and notes in `changed` the files
 * that changed while they were copied (their provider says so once their content has been read).
 */
export async function* recordBlocks(
  entries: AsyncIterable<ArchiveEntry>,
  buffers: BlockBuffers,
  counts: RecordCounts,
  signal?: AbortSignal,
  changed: string[] = [],
  bounds?: RecordBounds,
): AsyncGenerator<PlainBlock> {
  const writer = new RecordWriter(buffers, counts, changed, signal);
  const group: SpanRecord[] = [];
  for await (const listed of entries) {
    signal?.throwIfAborted();
    if (!bounds) {
      yield* writer.entry(listed);
    } else if (listed.open || listed.type !== 'file') {
      group.push(writer.listed(listed));
      if (bounds.groupEnds(group)) yield* writer.span(group.splice(0), bounds);
    } else {
      if (group.length) yield* writer.span(group.splice(0), bounds);
      if (bounds.apart(listed)) yield* writer.span([writer.listed(listed)], bounds);
      else yield* writer.entry(listed);
    }
  }
  if (group.length) yield* writer.span(group, bounds!);
  yield* writer.finish();
}

/** Writes records into blocks, alone or in spans (recordBlocks). */
class RecordWriter {
  private readonly filler: BlockFiller;
  private readonly records = new RecordEncoder();

  constructor(
    buffers: BlockBuffers,
    private readonly counts: RecordCounts,
    private readonly changed: string[],
    private readonly signal: AbortSignal | undefined,
  ) {
    this.filler = new BlockFiller(buffers);
  }

  /** The entry as listed, with a copy of its checked, encoded header. */
  listed(entry: ArchiveEntry): SpanRecord {
    return { entry, record: Buffer.from(this.encode(entry)) };
  }

  /**
   * One entry's record and content, the entry opened first if it was only listed. Returns the entry
   * as written, or null when it went away since it was listed. In a span (`listedRecord`, the listed
   * entry's record, a copy of its own) the record returned is a copy too: the listed one unless
   * opening changed the header; alone, it is valid until the next call.
   */
  async *entry(listed: ArchiveEntry, listedRecord?: Buffer): AsyncGenerator<PlainBlock, SpanRecord | null> {
    const entry = openedEntry(listed);
    if (!entry) return null;
    let record: Buffer;
    try {
      if (!listedRecord) record = this.encode(entry);
      else if (entry === listed || sameHeader(entry, listed)) record = listedRecord;
      else record = Buffer.from(this.encode(entry));
      this.filler.write(record);
      if (entry.type === 'file') {
        yield* fileContent(entry, this.filler, this.signal);
        if (entry.changedDuringCopy?.()) this.changed.push(entry.path);
      }
      countFile(entry, this.counts);
    } finally {
      entry.close?.();
    }
    for (const block of this.filler.takeReady()) yield block;
    return { entry, record };
  }

  /** A span kept apart (RecordBounds): skipped when the consumer holds it, else written whole. */
  async *span(span: SpanRecord[], bounds: RecordBounds): AsyncGenerator<PlainBlock> {
    if (bounds.starting(span, this.filler.offset)) {
      for (const { entry } of span) countFile(entry, this.counts);
      return;
    }
    const written: SpanRecord[] = [];
    for (const { entry, record: listed } of span) {
      const record = yield* this.entry(entry, listed);
      if (record) written.push(record);
    }
    bounds.ended(written, this.filler.offset);
  }

  /** The end record, and the last block. */
  *finish(): Generator<PlainBlock> {
    this.filler.write(this.records.encode(RECORD_END, { ...this.counts }));
    yield* this.filler.finish();
  }

  /** The entry's header encoded (valid until the next call); a header that cannot be stored fails. */
  private encode(entry: ArchiveEntry): Buffer {
    const problem = headerProblem(entry);
    if (problem) throw unusable(entry, problem);
    return this.records.encode(RECORD_ENTRY, headerOf(entry));
  }
}

/** Whether two entries' headers encode alike (headerOf's fields). */
function sameHeader(a: EntryHeader, b: EntryHeader): boolean {
  return (
    a.path === b.path &&
    a.type === b.type &&
    a.mode === b.mode &&
    a.mtimeMs === b.mtimeMs &&
    a.size === b.size &&
    a.linkTarget === b.linkTarget &&
    a.uid === b.uid &&
    a.gid === b.gid
  );
}

function countFile(entry: ArchiveEntry, counts: RecordCounts): void {
  counts.entries += 1;
  if (entry.type !== 'file') return;
  counts.files += 1;
  counts.sourceBytes += entry.size;
}

/** A file's bytes, exactly `size` of them, into the filler; yields each block they complete. */
async function* fileContent(
  entry: ArchiveEntry,
  filler: BlockFiller,
  signal?: AbortSignal,
): AsyncGenerator<PlainBlock> {
  let read = 0;
  if (entry.readInto) {
    const readInto = entry.readInto;
    for (let count = 1; read < entry.size && count > 0; read += count) {
      const filled = filler.fill(entry.size - read, readInto);
      count = typeof filled === 'number' ? filled : await filled;
      for (const block of filler.takeReady()) yield block;
      signal?.throwIfAborted();
    }
  } else if (entry.content) {
    for await (const chunk of (await entry.content()) as AsyncIterable<Buffer>) {
      read += chunk.length;
      if (read > entry.size) break;
      signal?.throwIfAborted();
      filler.write(chunk);
      for (const block of filler.takeReady()) yield block;
    }
  }
  if (read !== entry.size) {
    throw unusable(
      entry,
      `it changed while it was read (${entry.size} bytes expected, ${read > entry.size ? 'more' : read} read)`,
    );
  }
}

/**
 * Entries back from a record byte stream. Each file's content must be read (or abandoned) before the
 * next entry is asked for; whatever is left of it is then read and checked here. `contentHashes`
 * says whether each file's content is followed by its SHA-256 (format version 1). Content chunks are
 * views of the blocks `buffers` gave out: lent to the consumer, which may release them
 * (ExtractedEntry.release) so that their blocks are reused.
 */
export async function* decodeRecords(
  reader: ByteReader,
  fileId: string,
  contentHashes: () => boolean,
  buffers = new PlaintextBuffers(),
): AsyncGenerator<ExtractedEntry> {
  try {
    yield* decodeEntries(reader, fileId, contentHashes, buffers);
  } finally {
    await reader.close(); // a consumer that stops early closes the stored stream too
  }
}

async function* decodeEntries(
  reader: ByteReader,
  fileId: string,
  contentHashes: () => boolean,
  buffers: PlaintextBuffers,
): AsyncGenerator<ExtractedEntry> {
  const guard = new SymlinkGuard();
  const release = (chunk: Buffer) => buffers.release(chunk);
  const counts: RecordCounts = { entries: 0, files: 0, sourceBytes: 0 };
  for (;;) {
    const { type, header } = await readRecord(reader, fileId);
    if (type === RECORD_END) {
      checkTotals(header, counts, fileId);
      if (!(await reader.atEnd())) throw damaged(fileId, 'data follows its end record');
      return;
    }
    const entry = checkedHeader(header as EntryHeader, guard);
    counts.entries += 1;
    if (entry.type !== 'file') {
      yield entry;
      continue;
    }
    counts.files += 1;
    counts.sourceBytes += entry.size;
    const hash = contentHashes() ? createHash('sha256') : null;
    const content = new FileContent(reader, entry, hash, (chunk) => buffers.lend(chunk));
    entry.content = content;
    entry.release = release;
    yield entry;
    await content.finish();
  }
}

async function readRecord(reader: ByteReader, fileId: string): Promise<{ type: number; header: unknown }> {
  const prefix = await reader.readExactly(RECORD_PREFIX_BYTES);
  if (prefix.length < RECORD_PREFIX_BYTES) throw damaged(fileId, 'its entries end without an end record');
  const type = prefix.readUInt8(0);
  const length = prefix.readUInt32BE(1);
  if ((type !== RECORD_ENTRY && type !== RECORD_END) || length > MAX_HEADER_BYTES) {
    throw damaged(fileId, 'an entry record has an impossible header');
  }
  const json = await reader.readExactly(length);
  try {
    if (json.length < length) throw new Error('short');
    const header: unknown = JSON.parse(json.toString('utf8'));
    if (typeof header !== 'object' || header === null) throw new Error('not an object');
    return { type, header };
  } catch {
    throw damaged(fileId, 'an entry record cannot be read');
  }
}

function checkedHeader(raw: EntryHeader, guard: SymlinkGuard): ExtractedEntry {
  const header = headerOf(raw);
  const problem = headerProblem(header) ?? guard.problem(header.path);
  if (problem) throw entryDamaged(String(header.path), `its entry cannot be restored safely: ${problem}`);
  if (header.type === 'symlink') guard.remember(header.path);
  return header;
}

function checkTotals(header: unknown, counts: RecordCounts, fileId: string): void {
  const totals = header as Partial<RecordCounts>;
  if (
    totals.entries !== counts.entries ||
    totals.files !== counts.files ||
    totals.sourceBytes !== counts.sourceBytes
  ) {
    throw damaged(fileId, 'its end record does not match the entries before it');
  }
}

function entryDamaged(path: string, detail: string): AzsError {
  return new AzsError(
    'BackupCorrupt',
    `'${path}' in the backup is damaged: ${detail}. Its data cannot be trusted; restore another backup (Test-AzsBackup checks every backup's files).`,
    { target: path },
  );
}

/**
 * One file's content, pulled chunk by chunk (no stream: a restore of many small files made a
 * Readable and its async iterator for each, garbage the daemon then collected). With a `hash`
 * (format version 1) it ends only after the recorded SHA-256 has matched, and fails with
 * BackupCorrupt (target: the entry's path) when it does not.
 */
class FileContent implements AsyncIterable<Buffer> {
  private remaining: number;
  private verified = false;
  private failure: Error | undefined;
  private inFlight: Promise<Buffer | null> | undefined;

  constructor(
    private readonly reader: ByteReader,
    private readonly entry: ExtractedEntry,
    private readonly hash: Hash | null,
    /** Told of every chunk handed to the consumer (not of those read by finish()). */
    private readonly lend: (chunk: Buffer) => void,
  ) {
    this.remaining = entry.size;
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return {
      next: async (): Promise<IteratorResult<Buffer>> => {
        this.inFlight = this.next();
        const chunk = await this.inFlight;
        if (!chunk) return { done: true, value: undefined };
        this.lend(chunk);
        return { done: false, value: chunk };
      },
    };
  }

  /** Reads and checks whatever the consumer left unread; throws if the content is damaged. */
  async finish(): Promise<void> {
    if (!this.verified && !this.failure) {
      await this.inFlight?.catch(() => undefined);
      while (!this.failure && (await this.next().catch(() => null)) !== null);
    }
    if (this.failure) throw this.failure;
  }

  /** The next piece of content, or null once it is complete (and its hash, if any, checked). */
  private async next(): Promise<Buffer | null> {
    if (this.failure) throw this.failure; // nothing more is read once the content proved damaged
    try {
      if (this.remaining > 0) return this.take(await this.reader.readSome(this.remaining));
      if (!this.verified) await this.verify();
      return null;
    } catch (error) {
      this.failure ??= error as Error;
      throw error;
    }
  }

  private take(chunk: Buffer | null): Buffer {
    if (!chunk) throw entryDamaged(this.entry.path, 'its content is cut short');
    this.remaining -= chunk.length;
    this.hash?.update(chunk);
    return chunk;
  }

  private async verify(): Promise<void> {
    if (this.hash) await this.checkHash(this.hash);
    this.verified = true;
  }

  private async checkHash(hash: Hash): Promise<void> {
    const recorded = await this.reader.readExactly(HASH_BYTES);
    if (recorded.length < HASH_BYTES) throw entryDamaged(this.entry.path, 'its content is cut short');
    if (!recorded.equals(hash.digest())) {
      throw entryDamaged(this.entry.path, 'its content does not match the SHA-256 recorded at backup time');
    }
  }
}
