/**
 * The keys of a repository epoch (format 4, docs/format.md "Keys"): one random data key per
 * certificate epoch, and the keys derived from it, each used for one purpose only. The data key is
 * wrapped with the certificate's public key (keyWrap.ts) and never stored in clear.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { type ChunkIdFunction, requireChunkIdFunction } from './chunkId.js';

export const EPOCH_ID_BYTES = 16;

export interface EpochKeys {
  /** 32 lower-case hex digits naming the epoch (its folder in the repository). */
  epoch: string;
  /** Key of chunk ids (chunkId.ts): the share never learns a content hash. */
  chunkId: Buffer;
  /** What the epoch's chunk ids are made with, fixed when it started. */
  chunkIdFunction: ChunkIdFunction;
  /** Seeds the chunker's gear table, so that chunk sizes do not fingerprint content. */
  gear: Buffer;
  /** AES-256-GCM key of every blob (a chunk, or a role's list of chunks). */
  blob: Buffer;
  /** AES-256-GCM key of the index files. */
  index: Buffer;
  /** HMAC-SHA256 key of the repack records: only the key's holder can say a pack moved. */
  repack: Buffer;
  /** The data key itself, for the manifest key of each backup (manifestKeyOf). */
  data: Buffer;
}

export function newEpochId(): string {
  return randomBytes(EPOCH_ID_BYTES).toString('hex');
}

/** HKDF-SHA256(data key, salt = the epoch id's bytes, info = "AzureStackBackup <purpose> key v4" ‖ suffix). */
function derive(dataKey: Buffer, epoch: string, purpose: string, suffix = ''): Buffer {
  const info = Buffer.from(`AzureStackBackup ${purpose} key v4${suffix}`, 'utf8');
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.from(epoch, 'hex'), info, 32));
}

/**
 * The keys of `epoch`, whose ids are made with `chunkIdFunction`; throws (saying what to do) when this
 * machine cannot make them. A BLAKE3 epoch's chunk-id key has an info of its own.
 */
export function epochKeys(epoch: string, dataKey: Buffer, chunkIdFunction: ChunkIdFunction): EpochKeys {
  requireChunkIdFunction(chunkIdFunction);
  return {
    epoch,
    chunkId: derive(dataKey, epoch, 'chunk id', chunkIdFunction === 'BLAKE3' ? ' BLAKE3' : ''),
    chunkIdFunction,
    gear: derive(dataKey, epoch, 'gear'),
    blob: derive(dataKey, epoch, 'blob'),
    index: derive(dataKey, epoch, 'index'),
    repack: derive(dataKey, epoch, 'repack'),
    data: dataKey,
  };
}

/**
 * The key of one backup's manifest MAC (format 4): info = "AzureStackBackup manifest key v4" 0x00
 * BackupId. Bound to the backup's id, so a manifest's MAC never authenticates another backup's.
 */
export function manifestKeyOf(dataKey: Buffer, epoch: string, backupId: string): Buffer {
  return derive(dataKey, epoch, 'manifest', `\0${backupId}`);
}
