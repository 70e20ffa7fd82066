/**
 * Writes roles into the repository (docs/format.md, "Writing a backup"): each role's record stream
 * (the same records a role file holds) is cut into content-defined chunks; a chunk the index already
 * has is only referred to, a new one is sealed into a pack. A role ends as its list of chunks, itself
 * a blob. `finish` writes the backup's index file once every pack is stored and read back; only then
 * may a manifest refer to the roles.
 */
import type { ArchiveEntry } from '../archive/entry.js';
import { type RecordBounds, type RecordCounts, type SpanRecord, recordBlocks } from '../archive/records.js';
import { BlockBuffers } from '../archive/sealedBlocks.js';
import { ChunkBuffers } from './chunkBuffers.js';
import type { EpochKeys } from '../crypto/epochKeys.js';
import type { BackupStore } from '../storage/store.js';
import {
  type BlobKeys,
  blobKeysOf,
  CHUNK_ID_BYTES,
  DATA_BLOB,
  LIST_BLOB,
  type BlobType,
  storedLength,
} from './blobCodec.js';
import { type ChunkIndex, readIndex, writeIndexFile } from './chunkIndex.js';
import { PACK_SUFFIX, nameHash, packPath, packsFolder } from './layout.js';
import { AzsError } from '../protocol/errors.js';
import { type ChunkPool, sharedChunkPool } from './chunkPool.js';
import { CHUNK_SIZES, gearTable, keyedTextHash } from './chunker.js';
import { PackWriter } from './packWriter.js';
import { Successions, readRepackRecords } from './repacks.js';
import { StreamChunker } from './streamChunker.js';
import { type CachedRecord, type FileCache, type SpanKey, spanKey } from './fileCache.js';

/** Plaintext bytes per record block handed to the chunker. */
const RECORD_BLOCK_BYTES = 1024 * 1024;
/** Files from this size on are kept apart in chunks of their own and cached one by one. */
export const CACHED_FILE_BYTES = CHUNK_SIZES.average;
/**
 * Smaller files (and folders, and links) are cached in groups of about 15 entries: a group ends no
 * sooner than its GROUP_MIN_ENTRIES-th entry, then after an entry whose path's keyed hash is a
 * multiple of GROUP_END_MODULUS, or at GROUP_MAX_ENTRIES. A change dirties its group only. The
 * floor keeps groups near their average: ended by the hash alone (a multiple of 16 from the first
 * entry on) the group of a changed file held 31 entries on average, twice the average group, since a
 * file is likelier to sit in a long group than in a short one (docs/benchmarks.md, "Format 4: groups
 * with a floor").
 */
const GROUP_MIN_ENTRIES = 8;
const GROUP_END_MODULUS = 8;
const GROUP_MAX_ENTRIES = 64;
/** About how many bytes of chunks keep a thread busy between two replies. */
const CHUNK_BYTES_PER_JOB = 256 * 1024;
/** Bytes of a role's list per chunk: its id and its length (4 bytes, big-endian). */
export const LIST_ENTRY_BYTES = CHUNK_ID_BYTES + 4;

/** A stored role: what its manifest entry records. */
export interface StoredRole {
  /** The id of the role's list of chunks, hex. */
  list: string;
  chunks: number;
  /** The ids of the role's blobs (its list included): RepositoryWriter.packsOf names their packs. */
  blobs: Set<string>;
  /** Bytes of blobs this role added to the repository (new chunks only). */
  addedBytes: number;
  counts: RecordCounts;
  changedDuringCopy: string[];
  /** The role's large files and their chunks, for its next backup. */
  fileCache: FileCache;
}

/** A cache entry whose chunks are still being hashed. */
interface PendingRecord extends Omit<CachedRecord, 'chunks'> {
  chunks: CachedRecord['chunks'] | Promise<CachedRecord['chunks']>;
}

async function settledCache(pending: Map<string, PendingRecord>): Promise<FileCache> {
  const settled: FileCache = new Map();
  for (const [path, record] of pending) settled.set(path, { ...record, chunks: await record.chunks });
  return settled;
}

interface ChunkRef {
  id: string;
  length: number;
}

export class RepositoryWriter {
  private readonly packs: PackWriter;
  private readonly gear: Int32Array;
  /** The two keys the threads need, in buffers of their own (a Buffer may share its memory). */
  private readonly blobKeys: BlobKeys;
  /** Blobs of this backup not yet in a written pack, by id: another role may refer to them. */
  private readonly fresh = new Set<string>();
  /** The buffers chunks are cut into, reused once their thread hands them back. */
  private readonly chunkBuffers = new ChunkBuffers(CHUNK_SIZES);
  /** Chunks being hashed or sealed at once: enough to keep every thread busy. */
  private readonly inFlightLimit: number;

  constructor(
    private readonly store: BackupStore,
    private readonly keys: EpochKeys,
    private readonly index: ChunkIndex,
    private readonly pool: ChunkPool = sharedChunkPool(),
  ) {
    this.packs = new PackWriter(store, keys.epoch);
    this.gear = gearTable(keys.gear);
    this.blobKeys = blobKeysOf(keys);
    this.inFlightLimit = 4 * pool.size * Math.ceil(CHUNK_BYTES_PER_JOB / CHUNK_SIZES.average);
  }

  get epoch(): string {
    return this.keys.epoch;
  }

  /**
   * A writer for a backup into `keys`' epoch, deduplicating against every chunk in a stored pack
   * but those of `damaged` (packs verification found damaged: their chunks are stored anew) and of
   * packs a repack replaced.
   */
  static async open(
    store: BackupStore,
    keys: EpochKeys,
    pool?: ChunkPool,
    damaged: ReadonlySet<string> = new Set(),
  ): Promise<RepositoryWriter> {
    // A chunk is only as good as its pack: an index file may name packs that are gone (pruned, or
    // lost), and a backup must never refer to those. Nor to a replaced pack a stop left stored: a
    // reader takes its moved blobs from its successors, which a prune may have removed already.
    const stored = await storedPacks(store, keys.epoch);
    const successions = new Successions((await readRepackRecords(store, keys.epoch, keys)).records);
    const usable = (pack: string) => stored.has(pack) && !damaged.has(pack) && !successions.isReplaced(pack);
    return new RepositoryWriter(store, keys, await readIndex(store, keys, usable), pool);
  }

  /**
   * Stores a role's entries. `cache` is what the role's last backup learned of its large files: an
   * unchanged one (same path, header and identity) is not read, its chunks are listed again.
   */
  async storeRole(
    entries: AsyncIterable<ArchiveEntry>,
    signal?: AbortSignal,
    cache: FileCache = new Map(),
  ): Promise<StoredRole> {
    const counts: RecordCounts = { entries: 0, files: 0, sourceBytes: 0 };
    const changedDuringCopy: string[] = [];
    const buffers = new BlockBuffers(RECORD_BLOCK_BYTES);
    const refs: Promise<ChunkRef>[] = [];
    const inFlight: Promise<ChunkRef>[] = [];
    const added = { bytes: 0 };
    const chunker = new StreamChunker(
      this.pool,
      this.gear,
      (chunk) => {
        const ref = this.addChunk(chunk, DATA_BLOB, added);
        ref.catch(() => undefined); // awaited in order; a failure must not go unhandled meanwhile
        refs.push(ref);
        inFlight.push(ref);
      },
      // The last block, cut short, is a view of a whole block buffer.
      (block) => buffers.give(Buffer.from(block.buffer)),
      this.chunkBuffers,
    );
    const nextCache = new Map<string, PendingRecord>();
    const records = recordBlocks(
      entries,
      buffers,
      counts,
      signal,
      changedDuringCopy,
      this.spans(chunker, refs, cache, nextCache),
    );
    for await (const block of records) {
      await chunker.push(block.data);
      // Chunks waiting for their thread hold memory: wait for the oldest beyond the limit.
      while (inFlight.length > this.inFlightLimit) await inFlight.shift();
    }
    await chunker.finish();
    const chunks = await Promise.all(refs);
    const list = await this.addChunk(listOf(chunks), LIST_BLOB, added);
    return {
      list: list.id,
      chunks: chunks.length,
      blobs: new Set([list.id, ...chunks.map((chunk) => chunk.id)]),
      addedBytes: added.bytes,
      counts,
      changedDuringCopy,
      fileCache: await settledCache(nextCache),
    };
  }

  /**
   * Spans of records kept apart (a large file's, a group of smaller entries') in chunks of their
   * own, so that the next backup can list them again without reading them (`cache`, by the span's
   * first path); what each one's chunks are goes into `next`.
   */
  private spans(
    chunker: StreamChunker,
    refs: Promise<ChunkRef>[],
    cache: FileCache,
    next: Map<string, PendingRecord>,
  ): RecordBounds {
    let first = 0;
    /** The span `starting` last looked up, and its key. */
    let listed: { span: readonly SpanRecord[]; key: SpanKey } | undefined;
    return {
      apart: (entry) =>
        entry.type === 'file' && entry.identity !== undefined && entry.size >= CACHED_FILE_BYTES,
      groupEnds: (group) =>
        group.length >= GROUP_MAX_ENTRIES ||
        (group.length >= GROUP_MIN_ENTRIES &&
          keyedTextHash(this.gear, group[group.length - 1]!.entry.path) % GROUP_END_MODULUS === 0),
      starting: (span, offset) => {
        listed = { span, key: spanKey(span) };
        const { path, ...key } = listed.key;
        const cached = cache.get(path);
        const reusable =
          cached !== undefined &&
          cached.identity === key.identity &&
          cached.record === key.record &&
          cached.chunks.every(([id]) => this.index.has(id) || this.fresh.has(id));
        chunker.mark(offset, () => {
          first = refs.length;
          if (!reusable) return;
          for (const [id, length] of cached.chunks) refs.push(Promise.resolve({ id, length }));
          next.set(path, { ...key, chunks: cached.chunks });
        });
        return reusable;
      },
      ended: (span, offset) => {
        const lookedUp = listed;
        chunker.mark(offset, () => {
          if (!span.length) return;
          const chunks = Promise.all(refs.slice(first)).then((own) =>
            own.map(({ id, length }): [string, number] => [id, length]),
          );
          chunks.catch(() => undefined); // awaited with the role's other chunks
          // Most spans are written as they were listed: then their key is the one `starting` made.
          const { path, ...key } =
            lookedUp && sameRecords(span, lookedUp.span) ? lookedUp.key : spanKey(span);
          next.set(path, { ...key, chunks });
        });
      },
    };
  }

  /** Writes the last pack and the backup's index file. Nothing refers to the roles before this. */
  async finish(): Promise<void> {
    await this.packs.finish();
    for (const pack of this.packs.written) this.index.addPack(pack);
    if (this.packs.written.length) await writeIndexFile(this.store, this.keys, this.packs.written);
  }

  /**
   * Checks, after `finish`, that every pack the stored roles use is still in the store: a prune that
   * ran beside this backup may have removed one it deduplicated against. Nothing of the backup may
   * refer to a pack that is gone, so it fails (BackupFailed) and can simply be run again.
   */
  async checkStored(roles: StoredRole[]): Promise<void> {
    const stored = await storedPacks(this.store, this.keys.epoch);
    const gone = [...new Set(roles.flatMap((role) => this.packsOf(role)))].filter(
      (pack) => !stored.has(pack),
    );
    if (gone.length) {
      throw new AzsError(
        'BackupFailed',
        `${gone.length} pack(s) this backup refers to left the store while it ran (${gone.map((pack) => packPath(this.keys.epoch, pack)).join(', ')}): a prune or another program removed them. Nothing of this backup was kept and earlier backups are not affected; start the backup again.`,
      );
    }
  }

  /** Lets the packs under way settle, for a backup that failed: nothing will refer to them. */
  abandon(): Promise<void> {
    return this.packs.abandon();
  }

  /** The packs a stored role's blobs are in, sorted; once `finish` has named this backup's packs. */
  packsOf(role: StoredRole): string[] {
    const packs = new Set<string>();
    for (const id of role.blobs) {
      const blob = this.index.get(id);
      if (!blob) throw new Error(`blob ${id} is in no written pack: finish() must come first`);
      packs.add(blob.pack);
    }
    return [...packs].sort();
  }

  /** Stores `data` as a blob unless the repository has it; resolves to its id and length. */
  private async addChunk(data: Buffer, type: BlobType, added: { bytes: number }): Promise<ChunkRef> {
    const length = data.length;
    const keys = this.blobKeys;
    let chunkId: Buffer | undefined;
    if (this.index.size > 0) {
      // Most chunks of a later backup are known: hash first, and compress only what is new.
      ({ chunkId, data } = await this.pool.id(keys, data));
      const id = chunkId.toString('hex');
      if (this.index.has(id) || this.fresh.has(id)) {
        this.chunkBuffers.give(Buffer.from(data.buffer));
        return { id, length };
      }
    }
    const sealed = await this.pool.seal(keys, type, data, chunkId);
    this.chunkBuffers.give(Buffer.from(sealed.data.buffer));
    const id = sealed.chunkId.toString('hex');
    if (this.index.has(id) || this.fresh.has(id)) return { id, length };
    this.fresh.add(id);
    added.bytes += storedLength(sealed.stored);
    await this.packs.add(id, type, sealed.stored, length);
    return { id, length };
  }
}

/**
 * Whether a span was written with the very records (and identities) it was listed with: a record
 * the writer kept is the listed copy itself, so comparing the copies is enough.
 */
function sameRecords(written: readonly SpanRecord[], listed: readonly SpanRecord[]): boolean {
  return (
    written.length === listed.length &&
    written.every(
      ({ entry, record }, index) =>
        record === listed[index]!.record && entry.identity === listed[index]!.entry.identity,
    )
  );
}

/** The packs in the epoch's packs folder, by name. */
export async function storedPacks(store: BackupStore, epoch: string): Promise<Set<string>> {
  const stored = new Set<string>();
  for (const entry of await store.list(packsFolder(epoch))) {
    const name = nameHash(entry.name, PACK_SUFFIX);
    if (entry.type === 'file' && name) stored.add(name);
  }
  return stored;
}

/** A role's list blob: each chunk's id and length, in the order of the record stream. */
function listOf(chunks: ChunkRef[]): Buffer {
  const list = Buffer.allocUnsafe(chunks.length * LIST_ENTRY_BYTES);
  chunks.forEach((chunk, index) => {
    const offset = index * LIST_ENTRY_BYTES;
    Buffer.from(chunk.id, 'hex').copy(list, offset);
    list.writeUInt32BE(chunk.length, offset + CHUNK_ID_BYTES);
  });
  return list;
}
