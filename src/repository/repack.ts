/**
 * Repacking (docs/format.md, "Repacking"): a pack that retention left mostly dead — less than half
 * of its bytes are blobs a retained backup uses — has its used blobs copied into new packs, and
 * goes. Stored blobs are copied as they are (their authentication names their type and id, not a
 * pack), so this needs the epoch's key only to read the roles' lists, which say what is used.
 *
 * Order, so that a stop at any point leaves every backup restorable: new packs (each read back and
 * checked against its name), their index file, the repack record (readers follow it from the old
 * packs), and only then the old packs removed. Before the record nothing refers to the new files
 * (prune removes them); after it, an old pack still stored is found unused by the next repack and
 * removed then.
 */
import type { EpochKeys } from '../crypto/epochKeys.js';
import { AzsError } from '../protocol/errors.js';
import type { BackupStore } from '../storage/store.js';
import { BlobCodec, BlobDamaged, LIST_BLOB, blobKeysOf } from './blobCodec.js';
import {
  type BlobLocation,
  type ChunkIndex,
  type IndexFiles,
  type PackRecord,
  readIndexFiles,
  writeIndexFile,
} from './chunkIndex.js';
import { type RepositoryFiles, damagedFile } from './files.js';
import { indexPath, packPath, packsFolder } from './layout.js';
import { PackWriter } from './packWriter.js';
import { ChunkList, readPack } from './reader.js';
import { Successions, readRepackRecords, writeRepackRecord } from './repacks.js';
import { storedPacks } from './writer.js';

/**
 * A pack is repacked when its used blobs are less than this share of its bytes: a repack then
 * writes at most as many bytes as it frees (write amplification at most 1), and no pack holds more
 * dead bytes than live ones for longer than one prune (the store at most twice the live data).
 */
export const REPACK_BELOW_USED_SHARE = 0.5;

/** What a backup's manifest says of the repository: its packs and its roles' lists. */
export interface RepositoryBackup {
  packs: string[];
  lists: string[];
}

/** A pack to repack, and the blobs of it that are used (those are copied). */
export interface PackToRepack {
  name: string;
  used: PackRecord['Blobs'];
}

export interface RepackPlan {
  packs: PackToRepack[];
  /** Whether a record must say where the packs' blobs went (not when an earlier one says so). */
  needsRecord: boolean;
  /**
   * The index files that name no pack a backup of the epoch leads to (that of a pruned or killed
   * backup's packs, of packs a repack replaced and removed): removed, so that the epoch's index
   * files, which every backup, repack and restore reads whole, do not grow with every backup ever
   * made in it.
   */
  staleIndexFiles: string[];
}

/**
 * The packs worth repacking, after what `backups` (newest first: every backup of the epoch) use.
 * Only packs a backup older than the newest one refers to are considered: the newest backup's own
 * packs are as used as they will be. A blob counts as used in the pack where the reader of a backup
 * finds it (Successions.indexOf), so a pack is never removed while a backup reads from it.
 */
export async function planRepack(
  store: BackupStore,
  keys: EpochKeys,
  backups: RepositoryBackup[],
): Promise<RepackPlan> {
  const read = await readIndexFiles(store, keys);
  const successions = new Successions((await readRepackRecords(store, keys.epoch, keys)).records);
  const used = await usedBlobs(store, keys, read, successions, backups);
  const stored = await storedPacks(store, keys.epoch);
  const older = successions.reach(backups.slice(1).flatMap((backup) => backup.packs));
  const considered = new Set<string>();
  const packs: PackToRepack[] = [];
  for (const pack of read.packs) {
    if (!older.has(pack.Name) || !stored.has(pack.Name) || considered.has(pack.Name)) continue;
    considered.add(pack.Name);
    const usedIds = used.get(pack.Name) ?? new Set<string>();
    const blobs = pack.Blobs.filter(([id]) => usedIds.has(id));
    if (sumOf(blobs) < sumOf(pack.Blobs) * REPACK_BELOW_USED_SHARE)
      packs.push({ name: pack.Name, used: blobs });
  }
  const needsRecord = packs.some((pack) => pack.used.length > 0 || !successions.isReplaced(pack.name));
  const live = successions.reach(backups.flatMap((backup) => backup.packs));
  const staleIndexFiles = read.files
    .filter((file) => !file.packs.some((pack) => live.has(pack)))
    .map((file) => file.name);
  return { packs, needsRecord, staleIndexFiles };
}

/** The store paths `plan` removes: the packs repacked, then the stale index files. */
export function removalsOf(epoch: string, plan: RepackPlan): string[] {
  return [
    ...plan.packs.map((pack) => packPath(epoch, pack.name)),
    ...plan.staleIndexFiles.map((name) => indexPath(epoch, name)),
  ];
}

/**
 * Carries out `plan` (planRepack) and returns the store paths removed (removalsOf). `mayRemove` is
 * asked before each removal: a backup that started meanwhile may have taken chunks from an old
 * pack, which then stays for the next repack to judge.
 */
export async function repack(
  store: BackupStore,
  keys: EpochKeys,
  plan: RepackPlan,
  mayRemove: () => boolean,
): Promise<string[]> {
  if (plan.packs.length) await copyAndRecord(store, keys, plan);
  const removed: string[] = [];
  for (const path of removalsOf(keys.epoch, plan)) {
    if (!mayRemove()) break;
    await store.remove(path);
    removed.push(path);
  }
  return removed;
}

/** The plan's used blobs copied into new packs, their index file, and the record that leads there. */
async function copyAndRecord(store: BackupStore, keys: EpochKeys, plan: RepackPlan): Promise<void> {
  const written = await copyUsedBlobs(store, keys, plan.packs);
  const index = written.length ? await writeCheckedIndex(store, keys, written) : null;
  if (plan.needsRecord) {
    await writeRepackRecord(store, keys, {
      Old: plan.packs.map((pack) => pack.name),
      New: written.map((pack) => pack.Name),
      Index: index,
    });
  }
}

/** The used blobs of `packs`, each once, copied as stored into new packs (read back by PackWriter). */
async function copyUsedBlobs(
  store: BackupStore,
  keys: EpochKeys,
  packs: PackToRepack[],
): Promise<PackRecord[]> {
  const writer = new PackWriter(store, keys.epoch);
  const copied = new Set<string>();
  try {
    for (const pack of packs) {
      if (!pack.used.length) continue;
      const stored = await readPack(store, keys.epoch, pack.name);
      for (const [id, type, offset, length, plainLength] of pack.used) {
        if (copied.has(id)) continue;
        copied.add(id);
        // A copy: the pack's buffer goes once its blobs are in the new pack.
        await writer.add(id, type, Buffer.from(stored.subarray(offset, offset + length)), plainLength);
      }
    }
    await writer.finish();
  } catch (error) {
    await writer.abandon();
    throw error;
  }
  return writer.written;
}

/** Writes the index file of `packs`, and checks the stored copy against its name. */
async function writeCheckedIndex(store: BackupStore, keys: EpochKeys, packs: PackRecord[]): Promise<string> {
  const name = await writeIndexFile(store, keys, packs);
  const path = indexPath(keys.epoch, name);
  if ((await store.digest(path)).sha256 !== name)
    throw new AzsError('StoreFault', `The stored copy of ${path} does not match what was written`);
  return name;
}

/**
 * Each pack's used blobs, by pack: every blob of every backup (its roles' lists and their chunks),
 * where that backup's reader finds it. A blob no index names, or a list that does not open, stops
 * the repack: what is used cannot be known, so nothing may be removed.
 */
async function usedBlobs(
  files: RepositoryFiles,
  keys: EpochKeys,
  read: IndexFiles,
  successions: Successions,
  backups: RepositoryBackup[],
): Promise<Map<string, Set<string>>> {
  const used = new Map<string, Set<string>>();
  const codec = new BlobCodec();
  for (const backup of backups) {
    const index = successions.indexOf(read, backup.packs);
    const use = (id: string) => {
      const pack = locate(index, keys.epoch, id).pack;
      used.set(pack, (used.get(pack) ?? new Set<string>()).add(id));
    };
    for (const list of backup.lists) {
      use(list);
      const location = locate(index, keys.epoch, list);
      const stored = await readPack(files, keys.epoch, location.pack);
      const chunks = new ChunkList(openList(codec, keys, list, stored, location));
      for (const position of chunks.positions()) use(chunks.id(position).toString('hex'));
    }
  }
  return used;
}

function openList(
  codec: BlobCodec,
  keys: EpochKeys,
  list: string,
  pack: Buffer,
  location: BlobLocation,
): Buffer {
  try {
    return codec.openPacked(blobKeysOf(keys), LIST_BLOB, pack, [
      { ...location, id: Buffer.from(list, 'hex') },
    ]).plaintext;
  } catch (error) {
    if (!(error instanceof BlobDamaged)) throw error;
    throw damagedFile(
      packPath(keys.epoch, location.pack),
      `list ${list}: ${error.message}: nothing is repacked`,
    );
  }
}

function locate(index: ChunkIndex, epoch: string, id: string): BlobLocation {
  const location = index.get(id);
  if (!location)
    throw damagedFile(
      packsFolder(epoch),
      `a backup refers to blob ${id}, which no index file names: nothing is repacked`,
    );
  return location;
}

const sumOf = (blobs: PackRecord['Blobs']) => blobs.reduce((sum, [, , , length]) => sum + length, 0);
