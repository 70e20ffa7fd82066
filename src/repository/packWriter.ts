/**
 * Packs (docs/format.md, "Packs"): blobs gathered into files of about PACK_TARGET_BYTES, each
 * written once under the name of its own SHA-256 and read back before anything refers to it.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { BlockBuffers } from '../archive/sealedBlocks.js';
import { AzsError } from '../protocol/errors.js';
import type { BackupStore } from '../storage/store.js';
import { type BlobType, storedLength } from './blobCodec.js';
import type { PackRecord } from './chunkIndex.js';
import { packPath, packsFolder } from './layout.js';

/** Large enough that an SMB share's per-file round trips do not count, small enough to hold in memory. */
export const PACK_TARGET_BYTES = 8 * 1024 * 1024;
/**
 * A pack is at most its target plus one chunk's blob (a chunk's bound, with its envelope), or one
 * blob alone: a role's list of chunks (36 bytes a chunk) outgrows a chunk from about 7,300 chunks.
 */
export const MAX_PACK_BYTES = PACK_TARGET_BYTES + 2 * 1024 * 1024;
/**
 * Packs being written at once: one filling while one uploads is enough to keep a local store busy
 * (1 GiB in process, with StreamChunker's one scan per thread: CPU and wall time within the noise
 * of two, 12 MB less peak; docs/benchmarks.md, "Format 4: the daemon's peak"). Not measured on SMB
 * or blob stores, whose uploads take longer.
 */
const UPLOADS_IN_FLIGHT = 1;

export class PackWriter {
  /**
   * Packs are gathered in buffers of their own, reused once uploaded: a blob is copied in as it comes
   * and its own buffer dies young. Held until the pack was stored, each blob's buffer would outlive a
   * young-generation collection or two and wait for a full one, with tens of MB of packs long written
   * (docs/benchmarks.md, "Format 4: the writer's memory").
   */
  private readonly buffers = new BlockBuffers(MAX_PACK_BYTES);
  private pack: Buffer | undefined;
  private blobs: PackRecord['Blobs'] = [];
  private size = 0;
  private readonly uploads = new Set<Promise<void>>();
  private failure: unknown;
  /** The packs folder, made once per backup. */
  private folder: Promise<void> | undefined;
  /** The packs written, with their blobs: what the backup's index file lists. */
  readonly written: PackRecord[] = [];

  constructor(
    private readonly store: BackupStore,
    private readonly epoch: string,
  ) {}

  /**
   * Adds a stored blob (in parts, as BlobCodec.seal gives it, or whole); returns once the pack it
   * completes (if any) has a free upload slot. A blob that would take the pack beyond MAX_PACK_BYTES
   * starts a pack of its own: a reader, with no key and no index (a pack checked against its name),
   * refuses a larger pack.
   */
  async add(id: string, type: BlobType, stored: Buffer | Buffer[], plainLength: number): Promise<void> {
    const parts = Array.isArray(stored) ? stored : [stored];
    const length = storedLength(parts);
    if (length > MAX_PACK_BYTES) throw blobTooLarge(length);
    // Roles stored side by side add at once. A new pack waits for an upload slot, so that at most
    // UPLOADS_IN_FLIGHT + 1 buffers are ever taken (without the wait, a role went on filling a new
    // pack while another waited in seal(): four buffers, 10 MiB more of the daemon's peak); and
    // what another caller did meanwhile is looked at again after each wait.
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.size > 0 && this.size + length > MAX_PACK_BYTES) await this.seal();
      else if (!this.pack && this.uploads.size >= UPLOADS_IN_FLIGHT) await Promise.race(this.uploads);
      else break;
    }
    this.pack ??= this.buffers.take();
    this.blobs.push([id, type, this.size, length, plainLength]);
    for (const part of parts) this.size += part.copy(this.pack, this.size);
    if (this.size >= PACK_TARGET_BYTES) await this.seal();
  }

  /** Writes what is left and waits for every upload; rejects with the first upload's failure. */
  async finish(): Promise<void> {
    if (this.size > 0) await this.seal();
    await Promise.allSettled(this.uploads);
    if (this.failure) throw this.failure;
  }

  /** Waits for the uploads under way, whatever their outcome: the backup failed, nothing refers to them. */
  async abandon(): Promise<void> {
    await Promise.allSettled(this.uploads);
  }

  private async seal(): Promise<void> {
    if (this.failure) throw this.failure;
    const buffer = this.pack!;
    const pack = buffer.subarray(0, this.size);
    const blobs = this.blobs;
    this.pack = undefined;
    this.blobs = [];
    this.size = 0;
    const name = createHash('sha256').update(pack).digest('hex');
    // A failed upload's buffer is not reused: the store may still be reading it. No pack follows anyway.
    const upload = this.upload(name, pack).then(
      () => {
        this.buffers.give(buffer);
        this.written.push({ Name: name, Blobs: blobs });
      },
      (error: unknown) => void (this.failure ??= error),
    );
    this.uploads.add(upload);
    void upload.finally(() => this.uploads.delete(upload));
    while (this.uploads.size >= UPLOADS_IN_FLIGHT) await Promise.race(this.uploads);
    if (this.failure) throw this.failure;
  }

  /** Writes the pack, then reads it back: it counts only once the store holds exactly these bytes. */
  private async upload(name: string, pack: Buffer): Promise<void> {
    const path = packPath(this.epoch, name);
    await (this.folder ??= this.store.mkdir(packsFolder(this.epoch)));
    await this.store.writeFile(path, Readable.from([pack]));
    const digest = await this.store.digest(path);
    if (digest.sha256 !== name) {
      throw new AzsError(
        'StoreFault',
        `The stored copy of ${path} does not match what was written (${digest.size} bytes, SHA-256 differs)`,
      );
    }
  }
}

/**
 * Only a role's list of chunks can be this large: a role of over MAX_PACK_BYTES / 36 chunks (about
 * 290,000, some 18 GiB at the average chunk) cannot be stored in format 4 yet.
 */
function blobTooLarge(bytes: number): AzsError {
  return new AzsError(
    'BackupFailed',
    `A role's list of chunks takes ${bytes} bytes, more than the ${MAX_PACK_BYTES} a pack of the format 4 preview holds: the role is too large for format 4. Back it up in format 3 (start the daemon without AZSBACKUP_FORMAT=4), or split it into several roles.`,
  );
}
