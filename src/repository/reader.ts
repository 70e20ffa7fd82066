/**
 * Reads roles back from the repository (docs/format.md, "Reading a backup"): a role's list of chunks,
 * then its chunks in order, each opened and checked against its id. Packs are read whole (a store
 * reads files, not ranges) and checked against their names; readPlan.ts decides which packs are kept
 * between batches so that each is read about once, and a batch's blobs are opened in one message to
 * a worker thread. Memory stays bounded by the packs kept and the plaintext in flight, whatever the
 * size of the role, beyond the role's list and about 24 bytes a chunk of plan.
 */
import { isAzsError } from '../protocol/errors.js';
import type { EpochKeys } from '../crypto/epochKeys.js';
import {
  type BlobKeys,
  BlobDamaged,
  blobKeysOf,
  CHUNK_ID_BYTES,
  DATA_BLOB,
  LIST_BLOB,
  type BlobType,
  type PackedBlob,
} from './blobCodec.js';
import type { BlobLocation, ChunkIndex } from './chunkIndex.js';
import { type ChunkPool, sharedChunkPool } from './chunkPool.js';
import { type RepositoryFiles, damagedFile, readWhole } from './files.js';
import { packPath } from './layout.js';
import { MAX_PACK_BYTES } from './packWriter.js';
import { type Batch, PackCache, planBatches } from './readPlan.js';
import { Successions } from './repacks.js';
import { LIST_ENTRY_BYTES } from './writer.js';

/** Plaintext opened in one message to a worker: enough that messages cost nothing next to the work. */
const BATCH_BYTES = 1024 * 1024;
/**
 * Plaintext being opened or waiting for the reader of the stream: enough to keep both threads busy
 * while the main thread reads the next pack.
 */
const IN_FLIGHT_BYTES = 4 * 1024 * 1024;
/** Packs kept between windows (at most MAX_PACK_BYTES each): a window mostly goes on in packs of the last. */
const PACKS_KEPT = 3;
/**
 * Plaintext of the batches whose packs are read together: each pack a window needs is read once for
 * all of its batches there, and only their stored blobs are held (the chunks of the newest of many
 * backups come from the packs of all of them, interleaved: whole packs kept would be too many).
 */
const WINDOW_BYTES = 16 * 1024 * 1024;

export type BytesListener = (bytes: number) => void;

export class RepositoryReader {
  private readonly blobKeys: BlobKeys;

  private constructor(
    private readonly files: RepositoryFiles,
    private readonly keys: EpochKeys,
    private readonly index: ChunkIndex,
    private readonly pool: ChunkPool,
  ) {
    this.blobKeys = blobKeysOf(keys);
  }

  /**
   * A reader of the blobs in `packs` (those a backup's authenticated manifest lists), and in the
   * packs a repack moved their blobs to: a blob stored again in a later pack (its first pack
   * pruned, or found damaged) is found where this backup refers to it, although an index file may
   * still name the old pack.
   */
  static async open(
    files: RepositoryFiles,
    keys: EpochKeys,
    packs: ReadonlySet<string>,
    pool = sharedChunkPool(),
  ): Promise<RepositoryReader> {
    return new RepositoryReader(files, keys, await Successions.backupIndex(files, keys, packs), pool);
  }

  /** A role's record stream, batch by batch; BackupCorrupt (target: the pack) on any damage. */
  async *roleStream(list: string, onBytes: BytesListener = () => undefined): AsyncGenerator<Buffer> {
    const packs = new PackCache(PACKS_KEPT, (name) => readPack(this.files, this.keys.epoch, name, onBytes));
    const listed = await this.openList(Buffer.from(list, 'hex'), onBytes);
    const chunks = new ChunkList(listed.plaintext);
    const located = chunks
      .positions()
      .map((position) => this.locate(chunks.id(position), DATA_BLOB, chunks.plainLength(position)));
    const packOf = located.map((location) => location.pack);
    // The list's pack mostly holds the role's last chunks too: kept for them.
    packs.keep(listed.pack, listed.stored, firstUse(packOf, listed.pack));
    const blobsOf = (batch: Batch) =>
      positionsOf(batch).map((position) => ({ id: chunks.id(position), location: located[position]! }));
    const opening: { plainBytes: number; plaintext: Promise<Buffer> }[] = [];
    let inFlight = 0;
    const batches = planBatches(packOf, (position) => chunks.plainLength(position), BATCH_BYTES);
    for (const window of windows(batches, WINDOW_BYTES)) {
      const gathered = await gatherWindow(window, packs, blobsOf);
      for (const batch of window) {
        const plaintext = this.openGathered(gathered.get(batch)!, batch.pack, DATA_BLOB);
        plaintext.catch(() => undefined); // awaited in turn below
        opening.push({ plainBytes: batch.plainBytes, plaintext });
        inFlight += batch.plainBytes;
        while (inFlight > IN_FLIGHT_BYTES) {
          const next = opening.shift()!;
          inFlight -= next.plainBytes;
          yield await next.plaintext;
        }
      }
    }
    for (const next of opening) yield await next.plaintext;
  }

  /** The role's list, and the pack it is in. */
  private async openList(
    id: Buffer,
    onBytes: BytesListener,
  ): Promise<{ plaintext: Buffer; pack: string; stored: Promise<Buffer> }> {
    const location = this.locate(id, LIST_BLOB);
    const stored = readPack(this.files, this.keys.epoch, location.pack, onBytes);
    const plaintext = await this.openGathered(
      gather(await stored, [{ id, location }]),
      location.pack,
      LIST_BLOB,
    );
    return { plaintext, pack: location.pack, stored };
  }

  /** Where blob `id` is, checked to be of `type` and (when given) `plainLength` bytes. */
  private locate(id: Buffer, type: BlobType, plainLength?: number): BlobLocation {
    const location = this.index.get(id.toString('hex'));
    if (!location) {
      const refused = this.index.refused.map((error) => error.message);
      throw damagedFile(
        `the repository's index`,
        `it has no blob ${id.toString('hex')}: an index file or pack of this backup is missing${
          refused.length ? `, and these index files do not open: ${refused.join('; ')}` : ''
        }`,
      );
    }
    if (location.type !== type || (plainLength !== undefined && location.plainLength !== plainLength))
      throw damagedFile(
        packPath(this.keys.epoch, location.pack),
        `blob ${id.toString('hex')} is not what the role's list says`,
      );
    return location;
  }

  /** The plaintexts of blobs gathered out of `pack`, end to end. */
  private async openGathered(gathered: Gathered, pack: string, type: BlobType): Promise<Buffer> {
    try {
      return await this.pool.open(this.blobKeys, type, gathered.stored, gathered.blobs);
    } catch (error) {
      if (!(error instanceof BlobDamaged)) throw error;
      throw damagedFile(packPath(this.keys.epoch, pack), error.message);
    }
  }
}

interface LocatedBlob {
  id: Buffer;
  location: BlobLocation;
}

/** A batch's stored blobs, out of their pack. */
interface Gathered {
  stored: Buffer;
  blobs: PackedBlob[];
}

/** The batches cut into windows of about `maxBytes` of plaintext (at least one batch each). */
function* windows(batches: Iterable<Batch>, maxBytes: number): Generator<Batch[]> {
  let window: Batch[] = [];
  let bytes = 0;
  for (const batch of batches) {
    if (window.length && bytes + batch.plainBytes > maxBytes) {
      yield window;
      window = [];
      bytes = 0;
    }
    window.push(batch);
    bytes += batch.plainBytes;
  }
  if (window.length) yield window;
}

/**
 * The stored blobs of every batch of `window`, each pack read (or taken from `packs`) once: its
 * batches there are gathered out of it at once, then it is kept only if `packs` keeps it for a
 * later window (its use after the window's last batch of it).
 */
async function gatherWindow(
  window: Batch[],
  packs: PackCache<Buffer>,
  blobsOf: (batch: Batch) => LocatedBlob[],
): Promise<Map<Batch, Gathered>> {
  const byPack = new Map<string, Batch[]>();
  for (const batch of window) byPack.set(batch.pack, [...(byPack.get(batch.pack) ?? []), batch]);
  const gathered = new Map<Batch, Gathered>();
  for (const inPack of byPack.values()) {
    const stored = await packs.get(inPack.at(-1)!);
    for (const batch of inPack) gathered.set(batch, gather(stored, blobsOf(batch)));
  }
  return gathered;
}

/**
 * The stored bytes of a batch's blobs copied out of their pack, in memory of their own that travels
 * to a worker and back (a kept pack cannot travel, and a copy of it all would cost more); each id
 * copied too, since a view would carry the whole list to the thread.
 */
function gather(pack: Buffer, blobs: LocatedBlob[]): Gathered {
  const stored = Buffer.allocUnsafeSlow(blobs.reduce((total, { location }) => total + location.length, 0));
  let at = 0;
  const packed = blobs.map(({ id, location }): PackedBlob => {
    const length = pack.copy(stored, at, location.offset, location.offset + location.length);
    at += length;
    return { id: new Uint8Array(id), offset: at - length, length, plainLength: location.plainLength };
  });
  return { stored, blobs: packed };
}

function firstUse(packOf: readonly string[], pack: string): number {
  const position = packOf.indexOf(pack);
  return position === -1 ? Infinity : position;
}

function positionsOf(batch: Batch): number[] {
  return Array.from({ length: batch.end - batch.first }, (_, index) => batch.first + index);
}

/** A role's list of chunks, read in place: LIST_ENTRY_BYTES a chunk, its id then its plaintext length. */
export class ChunkList {
  constructor(private readonly list: Buffer) {}

  positions(): number[] {
    return Array.from({ length: Math.floor(this.list.length / LIST_ENTRY_BYTES) }, (_, position) => position);
  }

  id(position: number): Buffer {
    const at = position * LIST_ENTRY_BYTES;
    return this.list.subarray(at, at + CHUNK_ID_BYTES);
  }

  plainLength(position: number): number {
    return this.list.readUInt32BE(position * LIST_ENTRY_BYTES + CHUNK_ID_BYTES);
  }
}

/** A pack read whole and checked against its name: what Test-AzsBackup without the .pfx does. */
export async function readPack(
  files: RepositoryFiles,
  epoch: string,
  name: string,
  onBytes: BytesListener = () => undefined,
): Promise<Buffer> {
  const path = packPath(epoch, name);
  try {
    return await readWhole(files, path, name, MAX_PACK_BYTES, onBytes);
  } catch (error) {
    if (isAzsError(error, 'PathNotFound')) throw damagedFile(path, 'it is missing');
    throw error;
  }
}
