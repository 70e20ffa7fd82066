/**
 * Reads roles back from the repository (docs/format.md, "Reading a backup"): a role's list of chunks,
 * then its chunks in order, each opened and checked against its id. Packs are read whole (a store
 * reads files, not ranges), a window of chunks at a time, grouped by pack, so that each pack is
 * read about once per window whatever order the chunks were written in; memory stays bounded by the
 * window and two packs.
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
} from './blobCodec.js';
import type { BlobLocation, ChunkIndex } from './chunkIndex.js';
import { type ChunkPool, sharedChunkPool } from './chunkPool.js';
import { type RepositoryFiles, damagedFile, readWhole } from './files.js';
import { packPath } from './layout.js';
import { MAX_PACK_BYTES } from './packWriter.js';
import { Successions } from './repacks.js';
import { LIST_ENTRY_BYTES } from './writer.js';

/** Plaintext of the chunks opened at once (with the packs kept, what a restore holds beyond format 3). */
const WINDOW_BYTES = 8 * 1024 * 1024;
/** Packs kept after reading: a window (smaller than a pack's plaintext) mostly continues in the pack before. */
const PACKS_KEPT = 1;

export type BytesListener = (bytes: number) => void;

interface ListedChunk {
  id: Buffer;
  length: number;
}

export class RepositoryReader {
  private readonly kept = new Map<string, Buffer>();
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

  /** A role's record stream, chunk by chunk; BackupCorrupt (target: the pack) on any damage. */
  async *roleStream(list: string, onBytes: BytesListener = () => undefined): AsyncGenerator<Buffer> {
    const listed = parseList(await this.openBlob(Buffer.from(list, 'hex'), LIST_BLOB, onBytes));
    for (let start = 0; start < listed.length;) {
      let end = start;
      for (
        let bytes = 0;
        end < listed.length && (end === start || bytes + listed[end]!.length <= WINDOW_BYTES);
        end++
      )
        bytes += listed[end]!.length;
      yield* await this.window(listed.slice(start, end), onBytes);
      start = end;
    }
  }

  /** The chunks of a window, opened (in parallel) pack by pack, in the list's order. */
  private async window(chunks: ListedChunk[], onBytes: BytesListener): Promise<Buffer[]> {
    const byPack = new Map<string, ListedChunk[]>();
    for (const chunk of chunks) {
      const pack = this.locate(chunk.id).pack;
      byPack.set(pack, [...(byPack.get(pack) ?? []), chunk]);
    }
    const opened = new Map<string, Promise<Buffer>>();
    for (const [pack, inPack] of byPack) {
      const stored = await this.pack(pack, onBytes);
      for (const chunk of inPack) {
        const id = chunk.id.toString('hex');
        if (!opened.has(id)) opened.set(id, this.openIn(stored, pack, chunk.id, DATA_BLOB, chunk.length));
      }
    }
    for (const promise of opened.values()) promise.catch(() => undefined);
    return Promise.all(chunks.map((chunk) => opened.get(chunk.id.toString('hex'))!));
  }

  private async openBlob(id: Buffer, type: BlobType, onBytes: BytesListener): Promise<Buffer> {
    const location = this.locate(id);
    return this.openIn(
      await this.pack(location.pack, onBytes),
      location.pack,
      id,
      type,
      location.plainLength,
    );
  }

  private locate(id: Buffer): BlobLocation {
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
    return location;
  }

  private async openIn(
    stored: Buffer,
    pack: string,
    id: Buffer,
    type: BlobType,
    length: number,
  ): Promise<Buffer> {
    const location = this.locate(id);
    if (location.type !== type || location.plainLength !== length)
      throw damagedFile(
        packPath(this.keys.epoch, pack),
        `blob ${id.toString('hex')} is not what the role's list says`,
      );
    const blob = stored.subarray(location.offset, location.offset + location.length);
    try {
      return await this.pool.open(this.blobKeys, type, id, Buffer.from(blob), length);
    } catch (error) {
      if (!(error instanceof BlobDamaged)) throw error;
      throw damagedFile(packPath(this.keys.epoch, pack), `blob ${id.toString('hex')}: ${error.message}`);
    }
  }

  /** A pack's bytes, checked against its name. */
  private async pack(name: string, onBytes: BytesListener): Promise<Buffer> {
    const kept = this.kept.get(name);
    if (kept) return kept;
    const stored = await readPack(this.files, this.keys.epoch, name, onBytes);
    this.kept.set(name, stored);
    if (this.kept.size > PACKS_KEPT) this.kept.delete(this.kept.keys().next().value!);
    return stored;
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

/** A role's list blob as its chunks, in stream order. */
export function parseList(list: Buffer): ListedChunk[] {
  const chunks: ListedChunk[] = [];
  for (let offset = 0; offset + LIST_ENTRY_BYTES <= list.length; offset += LIST_ENTRY_BYTES) {
    chunks.push({
      id: list.subarray(offset, offset + CHUNK_ID_BYTES),
      length: list.readUInt32BE(offset + CHUNK_ID_BYTES),
    });
  }
  return chunks;
}
