/**
 * The one recovery path: how Restore-AzsBackup, Test-AzsBackup and `azsbackup extract` read a role
 * of a backup. Every stored byte is read once: the stored file's size and SHA-256 (against the
 * manifest), each block's authentication and decompression (in the block worker pool) and the
 * entries' checks all happen in the same pass, and the entries go on to whoever consumes them (a
 * provider writing into staging, a tree writer, or nothing for a test).
 *
 * The entries end only once the whole stored file has verified, so a consumer that writes beside
 * the role and swaps at the end (the providers, roles/swap.ts) never swaps in data that failed.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ExtractedEntry } from '../archive/entry.js';
import { readRoleArchive, storedFileProblem } from '../archive/index.js';
import {
  chunkIdFunctionOf,
  fileIdOf,
  type BackupManifest,
  type ManifestContent,
} from '../archive/manifest.js';
import { ByteReader } from '../archive/byteReader.js';
import { decodeRecords } from '../archive/records.js';
import { type EpochKeys, epochKeys } from '../crypto/epochKeys.js';
import type { RepositoryFiles } from '../repository/files.js';
import { RepositoryReader, readPack } from '../repository/reader.js';
import { Successions, readRepackRecords } from '../repository/repacks.js';
import { AzsError, isAzsError } from '../protocol/errors.js';
import type { ManifestRole } from './recoveryPlan.js';

/** A backup as the recovery path reads it: its manifest, and its stored files by manifest path. */
export interface BackupReader {
  manifest: BackupManifest;
  read(relativePath: string): Promise<Readable>;
  /** Format 4: the store's files from its root, where the repository is. */
  repository: RepositoryFiles;
}

/** Stored bytes read so far, for progress. */
export type BytesListener = (bytes: number) => void;

/**
 * A role's stored data that failed verification. `file` names the stored file, and after a colon
 * the entry, when the damage is in one entry (`Images/Images.azsb:disk-0.vhd`).
 */
export class RoleDamaged extends AzsError {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super('BackupCorrupt', message, { target: file });
  }
}

type StoredFile = ManifestRole['Files'][number];

/**
 * Reads `role` once with the backup key, giving its entries to `consume`; returns what `consume`
 * returns. Damage found anywhere in the pass (the stored file, a block, an entry, or by the consumer
 * itself) is thrown as RoleDamaged; any other error (the store cannot be read, the job was
 * cancelled) as it is.
 */
export async function readRole<T>(
  backup: BackupReader,
  role: ManifestRole,
  key: Buffer,
  consume: (entries: AsyncIterable<ExtractedEntry>) => Promise<T>,
  onBytes: BytesListener = () => undefined,
): Promise<T> {
  if (role.Content) return readRepositoryRole(backup, role, role.Content, key, consume, onBytes);
  // The manifest allows one stored file per role (one FileId per role); a role that stored no entries has none.
  const [file] = role.Files;
  if (!file) return consume(noEntries());
  const source = new DigestingSource(await backup.read(file.Path), onBytes);
  const fileId = fileIdOf(backup.manifest.BackupId, role.Registration.Name);
  try {
    return await consume(
      verifiedEntries(source, file, { key, fileId, formatVersion: backup.manifest.FormatVersion }),
    );
  } catch (error) {
    throw await asDamage(error, source, file, fileId);
  } finally {
    await source.close();
  }
}

/**
 * Format 4: the role's record stream from the repository, every chunk opened and checked against
 * its id as it is read; the list of chunks is authenticated, so nothing can be left out or added.
 */
async function readRepositoryRole<T>(
  backup: BackupReader,
  role: ManifestRole,
  content: ManifestContent,
  key: Buffer,
  consume: (entries: AsyncIterable<ExtractedEntry>) => Promise<T>,
  onBytes: BytesListener,
): Promise<T> {
  const epoch = backup.manifest.Encryption.Epoch!;
  const fileId = fileIdOf(backup.manifest.BackupId, role.Registration.Name);
  let read = 0;
  try {
    const keys = epochKeys(epoch, key, chunkIdFunctionOf(backup.manifest));
    const repository = await repositoryReaderOf(backup, keys);
    const stream = repository.roleStream(content.List, (bytes) => onBytes((read += bytes)));
    return await consume(decodeRecords(new ByteReader(stream), fileId, () => false));
  } catch (error) {
    throw repositoryDamage(error, role.Registration.Name);
  }
}

/** Damage the repository found (BackupCorrupt, its target the pack or index) as the role's; anything else as it is. */
function repositoryDamage(error: unknown, fallbackTarget: string): unknown {
  if (error instanceof RoleDamaged || !isAzsError(error, 'BackupCorrupt')) return error;
  return new RoleDamaged(error.message, error.target ?? fallbackTarget);
}

/**
 * The backup's repository reader: the epoch's index is read once, for every role of the backup, and
 * only for the packs its manifest lists.
 */
const repositoryReaders = new WeakMap<BackupReader, Promise<RepositoryReader>>();
function repositoryReaderOf(backup: BackupReader, keys: EpochKeys): Promise<RepositoryReader> {
  let reader = repositoryReaders.get(backup);
  if (!reader) {
    const packs = new Set(backup.manifest.Roles.flatMap((role) => role.Content?.Packs ?? []));
    repositoryReaders.set(backup, (reader = RepositoryReader.open(backup.repository, keys, packs)));
  }
  return reader;
}

/**
 * Checks `role`'s stored data without the .pfx, in one read: its file against the manifest (size
 * and SHA-256), or (format 4) every pack it uses against the SHA-256 its name says, or where a
 * repack moved a pack, every pack its blobs went to. `recordKeys` (the daemon's keys of the
 * backup's epoch, when it holds them) leave out repack records that do not authenticate.
 */
export async function checkStoredRole(
  backup: BackupReader,
  role: ManifestRole,
  recordKeys: EpochKeys | null = null,
  onBytes: BytesListener = () => undefined,
): Promise<void> {
  if (role.Content) {
    const epoch = backup.manifest.Encryption.Epoch!;
    const { records } = await readRepackRecords(backup.repository, epoch, recordKeys ?? undefined);
    const successions = new Successions(records);
    let read = 0;
    for (const pack of role.Content.Packs) {
      await checkPackOrSuccessors(backup.repository, epoch, successions, pack, (bytes) =>
        onBytes((read += bytes)),
      ).catch((error: unknown) => {
        throw repositoryDamage(error, pack);
      });
    }
    return;
  }
  const [file] = role.Files;
  if (!file) return;
  const source = new DigestingSource(await backup.read(file.Path), onBytes);
  try {
    await source.drain();
    const problem = source.problem(file);
    if (problem) throw storedFileDamaged(file, problem);
  } finally {
    await source.close();
  }
}

/** Every entry of a role read with the key and dropped: what Test-AzsBackup does with the .pfx. */
export async function readAndDiscard(entries: AsyncIterable<ExtractedEntry>): Promise<void> {
  // The archive reads and checks an entry's unread content when the next entry is asked for.
  const iterator = entries[Symbol.asyncIterator]();
  while (!(await iterator.next()).done);
}

async function* noEntries(): AsyncGenerator<ExtractedEntry> {}

/** The archive's entries, then the stored file's size and SHA-256 checked before the last one is let go. */
async function* verifiedEntries(
  source: DigestingSource,
  file: StoredFile,
  options: Parameters<typeof readRoleArchive>[1],
): AsyncGenerator<ExtractedEntry> {
  yield* readRoleArchive(source.chunks(), options);
  await source.drain(); // the archive has checked that nothing follows its last block
  const problem = source.problem(file);
  if (problem) throw storedFileDamaged(file, problem);
}

/**
 * The error to report for one thrown during the pass. When the damage shows in a block or an entry,
 * the stored file may simply not be the one the manifest records: the rest of it is read (still
 * the same single pass) and, if so, that is what is reported, as Test-AzsBackup without the .pfx
 * would.
 */
async function asDamage(
  error: unknown,
  source: DigestingSource,
  file: StoredFile,
  fileId: string,
): Promise<unknown> {
  if (error instanceof RoleDamaged || !isAzsError(error, 'BackupCorrupt')) return error;
  const problem = await source.drain().then(
    () => source.problem(file),
    () => null,
  );
  if (problem) return storedFileDamaged(file, problem);
  const entry = error.target && error.target !== fileId ? error.target : null;
  return new RoleDamaged(error.message, entry ? `${file.Path}:${entry}` : file.Path);
}

function storedFileDamaged(file: StoredFile, problem: string): RoleDamaged {
  return new RoleDamaged(`${file.Path}: ${problem}`, file.Path);
}

/**
 * A stored file's stream read once, its bytes counted and hashed on the way. The archive reads it
 * through chunks(); stopping early there does not end the stream, so drain() can read the rest.
 */
class DigestingSource {
  private readonly hash: Hash = createHash('sha256');
  private size = 0;
  private readonly source: AsyncIterator<Buffer>;
  private ended = false;

  constructor(
    private readonly stream: Readable,
    private readonly onBytes: BytesListener,
  ) {
    this.source = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  async *chunks(): AsyncGenerator<Buffer> {
    for (let chunk = await this.next(); chunk; chunk = await this.next()) yield chunk;
  }

  async drain(): Promise<void> {
    while (await this.next());
  }

  /** Null when what was read is the file the manifest records; otherwise what differs. */
  problem(expected: StoredFile): string | null {
    return storedFileProblem({ size: this.size, sha256: this.hash.copy().digest('hex') }, expected);
  }

  async close(): Promise<void> {
    if (!this.ended) await this.source.return?.();
    this.stream.destroy();
  }

  private async next(): Promise<Buffer | null> {
    if (this.ended) return null;
    const next = await this.source.next();
    if (next.done) {
      this.ended = true;
      return null;
    }
    this.hash.update(next.value);
    this.size += next.value.length;
    this.onBytes(this.size);
    return next.value;
  }
}

/**
 * One pack a manifest lists, checked against its name; when it is gone or damaged and a record
 * says a repack replaced it, every successor the same way. Without the epoch's key a planted record
 * cannot be told from ours: this proves the bytes are stored; a restore, whose reader trusts only
 * authenticated records and authenticates every blob, proves they are the backup's.
 */
async function checkPackOrSuccessors(
  files: RepositoryFiles,
  epoch: string,
  successions: Successions,
  pack: string,
  onBytes: BytesListener,
  followed = new Set<string>(),
): Promise<void> {
  followed.add(pack);
  try {
    await readPack(files, epoch, pack, onBytes);
  } catch (error) {
    const successors = successions.successorsOf(pack);
    if (!successors || !isAzsError(error, 'BackupCorrupt')) throw error;
    for (const next of successors) {
      if (followed.has(next)) throw error;
      await checkPackOrSuccessors(files, epoch, successions, next, onBytes, followed);
    }
  }
}
