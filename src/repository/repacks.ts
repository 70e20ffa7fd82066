/**
 * Repack records (docs/format.md, "Repacking"): a write-once file per repack that says which packs
 * it replaced and which packs now hold their used blobs. Manifests are never rewritten, so a
 * backup's manifest still names the packs a repack removed; readers follow these records from them.
 *
 * A record is MAC'd, not encrypted: keyless prune and Test-AzsBackup read it to keep and check the
 * new packs, and a forged record can only make them keep or accept more. What can lose data needs
 * the key: the reader trusts only records that authenticate, and only the daemon that holds the
 * epoch's key removes a pack a manifest lists (repack.ts).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import type { EpochKeys } from '../crypto/epochKeys.js';
import { AzsError, isAzsError } from '../protocol/errors.js';
import type { BackupStore } from '../storage/store.js';
import { type ChunkIndex, type IndexFiles, indexOf, readIndexFiles } from './chunkIndex.js';
import { type RepositoryFiles, damagedFile, readWhole } from './files.js';
import { REPACK_SUFFIX, nameHash, repackPath, repacksFolder } from './layout.js';

const MAGIC = Buffer.from('AZSBRPK4', 'latin1');
const MAC_BYTES = 32;
/** A record lists at most the packs of one repack: far below this. */
const MAX_RECORD_BYTES = 4 * 1024 * 1024;
const PACK_NAME = /^[0-9a-f]{64}$/;

/** What one repack did. */
export interface RepackRecord {
  /** The packs replaced: each is removed once the record is stored. */
  Old: string[];
  /** The packs their used blobs were copied to (none when none was used). */
  New: string[];
  /** The index file that lists `New`, or null when there are none. */
  Index: string | null;
}

/** A stored record, with its name (its SHA-256). */
export interface StoredRepackRecord extends RepackRecord {
  name: string;
}

/** An epoch's records that were read, and the files that are no record of it (each as its error). */
export interface RepackRecords {
  records: StoredRepackRecord[];
  refused: AzsError[];
}

function macOf(keys: EpochKeys, json: Buffer): Buffer {
  return createHmac('sha256', keys.repack)
    .update(MAGIC)
    .update(Buffer.from(keys.epoch, 'hex'))
    .update(json)
    .digest();
}

/**
 * Stores `record` (`"AZSBRPK4" ‖ HMAC-SHA256(repack key, "AZSBRPK4" ‖ epoch ‖ JSON) ‖ JSON`) under
 * its SHA-256, then checks the stored copy; returns its name.
 */
export async function writeRepackRecord(
  store: BackupStore,
  keys: EpochKeys,
  record: RepackRecord,
): Promise<string> {
  const json = Buffer.from(JSON.stringify({ Epoch: keys.epoch, ...record }), 'utf8');
  const stored = Buffer.concat([MAGIC, macOf(keys, json), json]);
  const name = createHash('sha256').update(stored).digest('hex');
  const path = repackPath(keys.epoch, name);
  await store.mkdir(repacksFolder(keys.epoch));
  await store.writeFile(path, Readable.from([stored]));
  if ((await store.digest(path)).sha256 !== name)
    throw new AzsError('StoreFault', `The stored copy of ${path} does not match what was written`);
  return name;
}

/**
 * The epoch's repack records, each checked against its name; with `keys`, also against the epoch's
 * repack key, so that only records this repository's key holder wrote count. Without them, any
 * well-formed record counts: enough to keep and check packs, never to remove or trust one.
 */
export async function readRepackRecords(
  files: RepositoryFiles,
  epoch: string,
  keys?: EpochKeys,
): Promise<RepackRecords> {
  const read: RepackRecords = { records: [], refused: [] };
  for (const entry of await files.list(repacksFolder(epoch))) {
    const hash = nameHash(entry.name, REPACK_SUFFIX);
    if (entry.type !== 'file' || !hash) continue;
    const path = repackPath(epoch, hash);
    try {
      const stored = await readWhole(files, path, hash, MAX_RECORD_BYTES);
      read.records.push({ name: hash, ...openRecord(stored, epoch, path, keys) });
    } catch (error) {
      if (!isAzsError(error, 'BackupCorrupt')) throw error;
      read.refused.push(error);
    }
  }
  return read;
}

function openRecord(stored: Buffer, epoch: string, path: string, keys?: EpochKeys): RepackRecord {
  if (stored.length < MAGIC.length + MAC_BYTES || !stored.subarray(0, MAGIC.length).equals(MAGIC))
    throw damagedFile(path, 'it is not a repack record of format 4');
  const json = stored.subarray(MAGIC.length + MAC_BYTES);
  if (keys && !timingSafeEqual(stored.subarray(MAGIC.length, MAGIC.length + MAC_BYTES), macOf(keys, json)))
    throw damagedFile(path, "it does not authenticate with the epoch's key (it was planted or changed)");
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch {
    throw damagedFile(path, 'it is not a repack record of format 4');
  }
  if (!isRecordOf(parsed, epoch)) throw damagedFile(path, 'it is not a repack record of this epoch');
  return { Old: parsed.Old, New: parsed.New, Index: parsed.Index };
}

/** Whether `parsed` is the JSON of a record of `epoch`: without the key, a file may hold anything. */
function isRecordOf(parsed: unknown, epoch: string): parsed is RepackRecord {
  if (typeof parsed !== 'object' || parsed === null) return false;
  const { Epoch, Old, New, Index } = parsed as Record<string, unknown>;
  return Epoch === epoch && isPackNames(Old) && isPackNames(New) && (Index === null || isPackNames([Index]));
}

const isPackNames = (names: unknown): names is string[] =>
  Array.isArray(names) && names.every((name) => typeof name === 'string' && PACK_NAME.test(name));

/** Which packs replaced which, after the records given. */
export class Successions {
  private readonly successors = new Map<string, Set<string>>();

  constructor(records: RepackRecord[]) {
    for (const record of records) {
      for (const old of record.Old) {
        const next = this.successors.get(old) ?? new Set<string>();
        for (const pack of record.New) next.add(pack);
        this.successors.set(old, next);
      }
    }
  }

  isReplaced(pack: string): boolean {
    return this.successors.has(pack);
  }

  /** The packs a repack copied `pack`'s used blobs to; undefined when none replaced it. */
  successorsOf(pack: string): ReadonlySet<string> | undefined {
    return this.successors.get(pack);
  }

  /** `packs` and every pack the records lead to from them (a pack's successors, theirs, …). */
  reach(packs: Iterable<string>): Set<string> {
    const reached = new Set<string>();
    const pending = [...packs];
    for (let pack = pending.pop(); pack !== undefined; pack = pending.pop()) {
      if (reached.has(pack)) continue;
      reached.add(pack);
      pending.push(...(this.successors.get(pack) ?? []));
    }
    return reached;
  }

  /** The reader's index of a backup that lists `packs` (indexOf), from the epoch's stored files. */
  static async backupIndex(
    files: RepositoryFiles,
    keys: EpochKeys,
    packs: Iterable<string>,
  ): Promise<ChunkIndex> {
    const successions = new Successions((await readRepackRecords(files, keys.epoch, keys)).records);
    return successions.indexOf(await readIndexFiles(files, keys), packs);
  }

  /**
   * The index of a backup that lists `packs`: the blobs of the packs it reaches, where a pack no
   * record replaced comes before one a record replaced (which is gone, or going). A replaced pack
   * still answers for a blob no successor holds: a backup that deduplicated against it before the
   * record was written refers to it there, and the repack then keeps it (repack.ts).
   */
  indexOf(read: IndexFiles, packs: Iterable<string>): ChunkIndex {
    const reached = this.reach(packs);
    const replacedLast = (pack: string) => (this.isReplaced(pack) ? 1 : 0);
    const ordered = read.packs
      .filter((pack) => reached.has(pack.Name))
      .sort(
        (a, b) =>
          replacedLast(a.Name) - replacedLast(b.Name) || (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0),
      );
    return indexOf({ packs: ordered, refused: read.refused });
  }
}
