/**
 * The index (docs/format.md, "Index files"): where each blob of an epoch is stored. Kept on the
 * store as write-once index files, each sealed under the epoch's index key and named by its own
 * SHA-256; the union of an epoch's index files is its index. In memory: one entry per blob (about
 * 200 bytes: 8 MB for 10 GiB of data at the average chunk size).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CompressStream, decompress } from 'zstd-napi';
import type { EpochKeys } from '../crypto/epochKeys.js';
import { type AzsError, isAzsError } from '../protocol/errors.js';
import type { BackupStore } from '../storage/store.js';
import type { BlobType } from './blobCodec.js';
import { type RepositoryFiles, damagedFile, readWhole } from './files.js';
import { INDEX_SUFFIX, indexFolder, indexPath, nameHash } from './layout.js';

const MAGIC = Buffer.from('AZSBIDX4', 'latin1');
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** An index file lists at most a backup's new packs: far below this. */
export const MAX_INDEX_FILE_BYTES = 64 * 1024 * 1024;

export interface BlobLocation {
  pack: string;
  type: BlobType;
  offset: number;
  length: number;
  plainLength: number;
}

/** A pack as an index file lists it: its name and its blobs, `[id hex, type, offset, length, plain length]`. */
export interface PackRecord {
  Name: string;
  Blobs: [string, BlobType, number, number, number][];
}

export class ChunkIndex {
  private readonly blobs = new Map<string, BlobLocation>();
  /** Index files that did not open (damaged, or from elsewhere), each as its error: none of their packs is here. */
  readonly refused: AzsError[] = [];

  get size(): number {
    return this.blobs.size;
  }

  get(id: string): BlobLocation | undefined {
    return this.blobs.get(id);
  }

  has(id: string): boolean {
    return this.blobs.has(id);
  }

  addPack(pack: PackRecord): void {
    for (const [id, type, offset, length, plainLength] of pack.Blobs) {
      if (!this.blobs.has(id)) this.blobs.set(id, { pack: pack.Name, type, offset, length, plainLength });
    }
  }
}

function aad(epoch: string): Buffer {
  return Buffer.concat([MAGIC, Buffer.from(epoch, 'hex')]);
}

/** What an epoch's index files list, and those that did not open (each as its error). */
export interface IndexFiles {
  packs: PackRecord[];
  refused: AzsError[];
}

/**
 * Reads every index file of the epoch, each checked against its name and key. A file that fails its
 * checks is left out and kept in `refused`: a damaged or planted file hides only what it lists, and
 * cannot stop a backup.
 */
export async function readIndexFiles(files: RepositoryFiles, keys: EpochKeys): Promise<IndexFiles> {
  const read: IndexFiles = { packs: [], refused: [] };
  for (const entry of await files.list(indexFolder(keys.epoch))) {
    const hash = nameHash(entry.name, INDEX_SUFFIX);
    if (entry.type !== 'file' || !hash) continue;
    const path = indexPath(keys.epoch, hash);
    try {
      read.packs.push(...openIndexFile(await readWhole(files, path, hash, MAX_INDEX_FILE_BYTES), keys, path));
    } catch (error) {
      if (!isAzsError(error, 'BackupCorrupt')) throw error;
      read.refused.push(error);
    }
  }
  return read;
}

/** One index of `read`'s packs that `keep` accepts, in `read`'s order: the first pack naming a blob wins. */
export function indexOf(read: IndexFiles, keep: (pack: string) => boolean = () => true): ChunkIndex {
  const index = new ChunkIndex();
  index.refused.push(...read.refused);
  for (const pack of read.packs) if (keep(pack.Name)) index.addPack(pack);
  return index;
}

/** The epoch's index, of only the packs `keep` accepts when it is given (readIndexFiles, indexOf). */
export async function readIndex(
  files: RepositoryFiles,
  keys: EpochKeys,
  keep: (pack: string) => boolean = () => true,
): Promise<ChunkIndex> {
  return indexOf(await readIndexFiles(files, keys), keep);
}

function openIndexFile(stored: Buffer, keys: EpochKeys, path: string): PackRecord[] {
  const body = stored.subarray(MAGIC.length + NONCE_BYTES, stored.length - TAG_BYTES);
  if (
    stored.length < MAGIC.length + NONCE_BYTES + TAG_BYTES ||
    !stored.subarray(0, MAGIC.length).equals(MAGIC)
  )
    throw damagedFile(path, 'it is not an index file of format 4');
  const decipher = createDecipheriv(
    'aes-256-gcm',
    keys.index,
    stored.subarray(MAGIC.length, MAGIC.length + NONCE_BYTES),
  );
  decipher.setAAD(aad(keys.epoch));
  decipher.setAuthTag(stored.subarray(stored.length - TAG_BYTES));
  let json: Buffer;
  try {
    json = decompress(Buffer.concat([decipher.update(body), decipher.final()]));
  } catch {
    throw damagedFile(
      path,
      "it does not authenticate with the epoch's key (it was changed, or comes from elsewhere)",
    );
  }
  const parsed = JSON.parse(json.toString('utf8')) as { Epoch: string; Packs: PackRecord[] };
  if (parsed.Epoch !== keys.epoch) throw damagedFile(path, 'it belongs to another epoch');
  return parsed.Packs;
}

/**
 * The index file's JSON, a pack at a time: the same text as `JSON.stringify({ Epoch, Packs })`,
 * never all of it at once (a backup of 40 GiB lists some 650,000 blobs, about 65 MB of JSON).
 */
export function* indexJson(epoch: string, packs: PackRecord[]): Generator<Buffer> {
  yield Buffer.from(`{"Epoch":${JSON.stringify(epoch)},"Packs":[`);
  for (const [position, pack] of packs.entries())
    yield Buffer.from(`${position ? ',' : ''}${JSON.stringify(pack)}`);
  yield Buffer.from(']}');
}

/**
 * Writes an index file listing `packs`; returns its name (its SHA-256). The JSON is compressed and
 * sealed as it is made: only the stored bytes are held whole (their hash names the file).
 */
export async function writeIndexFile(
  store: BackupStore,
  keys: EpochKeys,
  packs: PackRecord[],
): Promise<string> {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keys.index, nonce);
  cipher.setAAD(aad(keys.epoch));
  const stored: Buffer[] = [MAGIC, nonce];
  await pipeline(Readable.from(indexJson(keys.epoch, packs)), new CompressStream(), cipher, async (body) => {
    for await (const part of body as AsyncIterable<Buffer>) stored.push(part);
  });
  stored.push(cipher.getAuthTag());
  const hash = createHash('sha256');
  for (const part of stored) hash.update(part);
  const name = hash.digest('hex');
  await store.mkdir(indexFolder(keys.epoch));
  await store.writeFile(indexPath(keys.epoch, name), Readable.from(stored));
  return name;
}
