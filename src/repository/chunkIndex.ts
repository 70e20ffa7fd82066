/**
 * The index (docs/format.md, "Index files"): where each blob of an epoch is stored. Kept on the
 * store as write-once index files, each sealed under the epoch's index key and named by its own
 * SHA-256; the union of an epoch's index files is its index. In memory: about 75 bytes per blob
 * (12 MB for 10 GiB of data at the average chunk size).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CompressStream, decompress } from 'zstd-napi';
import type { EpochKeys } from '../crypto/epochKeys.js';
import { type AzsError, isAzsError } from '../protocol/errors.js';
import type { BackupStore } from '../storage/store.js';
import { type BlobType, CHUNK_ID_BYTES } from './blobCodec.js';
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

/** Blobs an index has room for before it grows (it doubles). */
const INITIAL_CAPACITY = 1024;
/** A blob id as 32-bit words. */
const ID_WORDS = CHUNK_ID_BYTES / 4;
/** The value of each lower-case hex digit by its character code, -1 for any other character. */
const HEX_DIGITS = Int8Array.from({ length: 128 }, (_, code) =>
  '0123456789abcdef'.indexOf(String.fromCharCode(code)),
);

/**
 * The blobs of an index, by id. Held compactly (about 75 bytes a blob, against some 180 in a Map of
 * hex strings to objects), since a writer and a reader hold the epoch's whole index: the ids end to
 * end as 32-bit words, each blob's location in typed arrays, and an open-addressing table of blob
 * numbers keyed by the id (docs/format.md, "Index files": how memory grows). Ids are looked up in
 * plain JavaScript, as fast as a Map of strings: a Buffer call per lookup took several times longer.
 */
export class ChunkIndex {
  private count = 0;
  private ids = new Uint32Array(INITIAL_CAPACITY * ID_WORDS);
  private packOf = new Uint32Array(INITIAL_CAPACITY);
  private types = new Uint8Array(INITIAL_CAPACITY);
  private offsets = new Uint32Array(INITIAL_CAPACITY);
  private lengths = new Uint32Array(INITIAL_CAPACITY);
  private plainLengths = new Uint32Array(INITIAL_CAPACITY);
  /** Each slot a blob's number plus one, or 0 when free; at most half of them are taken. */
  private slots = new Uint32Array(2 * INITIAL_CAPACITY);
  private readonly packNames: string[] = [];
  private readonly packNumbers = new Map<string, number>();
  /** The id being looked up or added, as words. */
  private readonly key = new Uint32Array(ID_WORDS);
  /** Index files that did not open (damaged, or from elsewhere), each as its error: none of their packs is here. */
  readonly refused: AzsError[] = [];

  get size(): number {
    return this.count;
  }

  get(id: string): BlobLocation | undefined {
    const blob = this.find(id);
    if (blob === undefined) return undefined;
    return {
      pack: this.packNames[this.packOf[blob]!]!,
      type: this.types[blob] as BlobType,
      offset: this.offsets[blob]!,
      length: this.lengths[blob]!,
      plainLength: this.plainLengths[blob]!,
    };
  }

  has(id: string): boolean {
    return this.find(id) !== undefined;
  }

  addPack(pack: PackRecord): void {
    let packNumber = this.packNumbers.get(pack.Name);
    if (packNumber === undefined) {
      packNumber = this.packNames.push(pack.Name) - 1;
      this.packNumbers.set(pack.Name, packNumber);
    }
    for (const [id, type, offset, length, plainLength] of pack.Blobs) {
      if (!this.setKey(id)) throw new Error(`${id} is not a blob id`);
      let slot = this.slotOf(this.key);
      if (this.slots[slot] !== 0) continue; // the first pack naming a blob wins
      if (this.count === this.packOf.length) {
        this.grow();
        slot = this.slotOf(this.key);
      }
      const blob = this.count++;
      this.ids.set(this.key, blob * ID_WORDS);
      this.packOf[blob] = packNumber;
      this.types[blob] = type;
      this.offsets[blob] = offset;
      this.lengths[blob] = length;
      this.plainLengths[blob] = plainLength;
      this.slots[slot] = blob + 1;
    }
  }

  /** The number of blob `id`, if the index has it. */
  private find(id: string): number | undefined {
    if (!this.setKey(id)) return undefined;
    const taken = this.slots[this.slotOf(this.key)]!;
    return taken === 0 ? undefined : taken - 1;
  }

  /** `key` becomes the words of `id`; false when `id` is not the lower-case hex of a blob id. */
  private setKey(id: string): boolean {
    if (id.length !== 2 * CHUNK_ID_BYTES) return false;
    for (let word = 0; word < ID_WORDS; word++) {
      let value = 0;
      for (let at = 8 * word; at < 8 * word + 8; at++) {
        const digit = HEX_DIGITS[id.charCodeAt(at)] ?? -1;
        if (digit < 0) return false;
        value = (value << 4) | digit;
      }
      this.key[word] = value;
    }
    return true;
  }

  /** The slot holding the blob whose id is `words` (from `from` on), or the free slot where it would go. */
  private slotOf(words: Uint32Array, from = 0): number {
    const mask = this.slots.length - 1;
    // Ids are keyed hashes, so any 32 of their bits would do; all are mixed in, so that ids that are
    // not (a test's) spread as well.
    let hash = 0;
    for (let word = 0; word < ID_WORDS; word++) hash = Math.imul(hash ^ words[from + word]!, 0x9e3779b1);
    for (let slot = (hash ^ (hash >>> 15)) & mask; ; slot = (slot + 1) & mask) {
      const taken = this.slots[slot]!;
      if (taken === 0) return slot;
      const start = (taken - 1) * ID_WORDS;
      let word = 0;
      while (word < ID_WORDS && this.ids[start + word] === words[from + word]) word++;
      if (word === ID_WORDS) return slot;
    }
  }

  /** Twice the room: the arrays copied, every blob given its slot in a table twice as large. */
  private grow(): void {
    const capacity = 2 * this.packOf.length;
    this.ids = larger(this.ids, new Uint32Array(capacity * ID_WORDS));
    this.packOf = larger(this.packOf, new Uint32Array(capacity));
    this.types = larger(this.types, new Uint8Array(capacity));
    this.offsets = larger(this.offsets, new Uint32Array(capacity));
    this.lengths = larger(this.lengths, new Uint32Array(capacity));
    this.plainLengths = larger(this.plainLengths, new Uint32Array(capacity));
    this.slots = new Uint32Array(2 * capacity);
    for (let blob = 0; blob < this.count; blob++)
      this.slots[this.slotOf(this.ids, blob * ID_WORDS)] = blob + 1;
  }
}

function larger<T extends Uint8Array | Uint32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

function aad(epoch: string): Buffer {
  return Buffer.concat([MAGIC, Buffer.from(epoch, 'hex')]);
}

/** What an epoch's index files list, and those that did not open (each as its error). */
export interface IndexFiles {
  packs: PackRecord[];
  refused: AzsError[];
  /** Each index file that opened, by name (its SHA-256), and the packs it names. */
  files: IndexFile[];
}

export interface IndexFile {
  name: string;
  packs: string[];
}

/** An index file that opened: its name and what it lists. */
interface OpenedIndexFile {
  name: string;
  packs: PackRecord[];
}

/**
 * Each index file of the epoch in turn, checked against its name and key: the packs it lists, or
 * (one that fails its checks) its error. A damaged or planted file hides only what it lists, and
 * cannot stop a backup.
 */
async function* indexFiles(
  files: RepositoryFiles,
  keys: EpochKeys,
): AsyncGenerator<OpenedIndexFile | AzsError> {
  for (const entry of await files.list(indexFolder(keys.epoch))) {
    const hash = nameHash(entry.name, INDEX_SUFFIX);
    if (entry.type !== 'file' || !hash) continue;
    const path = indexPath(keys.epoch, hash);
    let opened: OpenedIndexFile | AzsError;
    try {
      const packs = openIndexFile(await readWhole(files, path, hash, MAX_INDEX_FILE_BYTES), keys, path);
      opened = { name: hash, packs };
    } catch (error) {
      if (!isAzsError(error, 'BackupCorrupt')) throw error;
      opened = error;
    }
    yield opened;
  }
}

/** Reads every index file of the epoch; those that do not open are kept in `refused`. */
export async function readIndexFiles(files: RepositoryFiles, keys: EpochKeys): Promise<IndexFiles> {
  const read: IndexFiles = { packs: [], refused: [], files: [] };
  for await (const file of indexFiles(files, keys)) {
    if (!('packs' in file)) read.refused.push(file);
    else {
      read.packs.push(...file.packs);
      read.files.push({ name: file.name, packs: file.packs.map((pack) => pack.Name) });
    }
  }
  return read;
}

/** One index of `read`'s packs that `keep` accepts, in `read`'s order: the first pack naming a blob wins. */
export function indexOf(
  read: Pick<IndexFiles, 'packs' | 'refused'>,
  keep: (pack: string) => boolean = () => true,
): ChunkIndex {
  const index = new ChunkIndex();
  index.refused.push(...read.refused);
  for (const pack of read.packs) if (keep(pack.Name)) index.addPack(pack);
  return index;
}

/**
 * The epoch's index, of only the packs `keep` accepts when it is given: as indexOf(readIndexFiles),
 * but each file's parsed packs are let go once added, so that only one file's are held at a time
 * (the first backup's, the largest: about 6 MB per GiB it stored).
 */
export async function readIndex(
  files: RepositoryFiles,
  keys: EpochKeys,
  keep: (pack: string) => boolean = () => true,
): Promise<ChunkIndex> {
  const index = new ChunkIndex();
  for await (const file of indexFiles(files, keys)) {
    if (!('packs' in file)) index.refused.push(file);
    else for (const pack of file.packs) if (keep(pack.Name)) index.addPack(pack);
  }
  return index;
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
