/**
 * One blob, both ways (docs/format.md, "Blobs"): a chunk of a role's record stream, or a role's list
 * of chunks. Its id is its plaintext's keyed hash (crypto/chunkId.ts, the epoch's function); it is
 * stored as nonce ‖ AES-256-GCM(flag ‖ payload) ‖ tag, the payload zstd-compressed (flag 1) or raw
 * (flag 0) when that is not smaller, authenticated with the type and id. A reader recomputes the id
 * from the plaintext: a blob cannot be served in place of another.
 */
import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto';
import zstd from 'zstd-napi/binding.js';
import { type ChunkIdFunction, chunkIdWith } from '../crypto/chunkId.js';

export const BLOB_NONCE_BYTES = 12;
export const BLOB_TAG_BYTES = 16;
export const CHUNK_ID_BYTES = 32;
const COMPRESSION_LEVEL = 1;
const AAD_PREFIX = Buffer.from('AZSB4BLB', 'latin1');

/** 1: a chunk of a role's record stream; 2: a role's list of chunks. */
export type BlobType = 1 | 2;
export const DATA_BLOB: BlobType = 1;
export const LIST_BLOB: BlobType = 2;

/** Where a stored blob lies among others, and the plaintext it opens to. */
export interface PackedBlob {
  id: Uint8Array;
  offset: number;
  length: number;
  plainLength: number;
}

export interface BlobKeys {
  chunkId: Uint8Array;
  chunkIdFunction: ChunkIdFunction;
  blob: Uint8Array;
}

/** The keys a thread needs, copied into memory of their own: only these reach the threads. */
export function blobKeysOf(keys: BlobKeys): BlobKeys {
  return {
    chunkId: new Uint8Array(keys.chunkId),
    chunkIdFunction: keys.chunkIdFunction,
    blob: new Uint8Array(keys.blob),
  };
}

/** A blob that fails to open: the message says how. */
export class BlobDamaged extends Error {}

function aad(type: BlobType, id: Uint8Array): Buffer {
  return Buffer.concat([AAD_PREFIX, Buffer.of(type), id]);
}

/** The bytes of a stored blob given in parts (BlobCodec.seal). */
export function storedLength(parts: readonly Uint8Array[]): number {
  return parts.reduce((bytes, part) => bytes + part.length, 0);
}

export function chunkIdOf(keys: BlobKeys, plaintext: Uint8Array): Buffer {
  return chunkIdWith(keys.chunkIdFunction, keys.chunkId, plaintext);
}

export class BlobCodec {
  private readonly compressor = new zstd.CCtx();
  private readonly decompressor = new zstd.DCtx();
  private scratch = Buffer.alloc(0);

  /**
   * The stored blob of `plaintext`, whose id is `id`, in the parts it is written in: nonce and flag,
   * the payload's ciphertext, the tag. Not copied into one buffer: the ciphertext is the cipher's own
   * output, and a thread that copied it would leave a buffer of every chunk it sealed to its garbage
   * collector, which frees them only after tens of MB (docs/benchmarks.md, "Format 4: the writer's
   * memory").
   */
  seal(keys: BlobKeys, type: BlobType, id: Uint8Array, plaintext: Uint8Array): Buffer[] {
    const bound = zstd.compressBound(plaintext.length);
    if (this.scratch.length < bound) this.scratch = Buffer.allocUnsafeSlow(bound);
    const length = this.compressor.compress(this.scratch, plaintext, COMPRESSION_LEVEL);
    const compressed = length < plaintext.length;
    const payload = compressed ? this.scratch.subarray(0, length) : plaintext;
    const nonce = randomBytes(BLOB_NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', keys.blob, nonce);
    cipher.setAAD(aad(type, id));
    const head = Buffer.concat([nonce, cipher.update(Buffer.of(compressed ? 1 : 0))]);
    const body = cipher.update(payload);
    return [head, body, Buffer.concat([cipher.final(), cipher.getAuthTag()])];
  }

  /**
   * The plaintexts of `blobs`, all of type `type` and where they are in `stored`, end to end in one
   * buffer (one allocation, and one message back, for many chunks); BlobDamaged naming the first that
   * fails. `scratch` holds the decrypted payloads, for a worker to hand back with the plaintext: a
   * worker's heap is collected only under its own memory pressure, and its dead buffers would
   * otherwise add tens of megabytes to the daemon's peak (as archive/blockCodec.ts says).
   */
  openPacked(
    keys: BlobKeys,
    type: BlobType,
    stored: Uint8Array,
    blobs: readonly PackedBlob[],
  ): { plaintext: Buffer; scratch: Buffer[] } {
    const plaintext = Buffer.allocUnsafeSlow(blobs.reduce((total, blob) => total + blob.plainLength, 0));
    const scratch: Buffer[] = [];
    let at = 0;
    for (const blob of blobs) {
      const one = stored.subarray(blob.offset, blob.offset + blob.length);
      const target = plaintext.subarray(at, (at += blob.plainLength));
      try {
        scratch.push(this.openInto(keys, type, blob.id, one, target));
      } catch (error) {
        if (!(error instanceof BlobDamaged)) throw error;
        throw new BlobDamaged(`blob ${Buffer.from(blob.id).toString('hex')}: ${error.message}`);
      }
    }
    return { plaintext, scratch };
  }

  /**
   * Opens a stored blob into `target`, which it must fill exactly, its id being `id`; BlobDamaged
   * otherwise. Returns the decrypted payload, which was only scratch.
   */
  private openInto(
    keys: BlobKeys,
    type: BlobType,
    id: Uint8Array,
    stored: Uint8Array,
    target: Buffer,
  ): Buffer {
    if (stored.length < BLOB_NONCE_BYTES + 1 + BLOB_TAG_BYTES) throw new BlobDamaged('it is cut short');
    const decipher = createDecipheriv('aes-256-gcm', keys.blob, stored.subarray(0, BLOB_NONCE_BYTES));
    decipher.setAAD(aad(type, id));
    decipher.setAuthTag(stored.subarray(stored.length - BLOB_TAG_BYTES));
    const body = decipher.update(stored.subarray(BLOB_NONCE_BYTES, stored.length - BLOB_TAG_BYTES));
    try {
      decipher.final();
    } catch {
      throw new BlobDamaged('it fails authentication (it was changed, or is not the blob its index names)');
    }
    const compressed = body[0] === 1;
    const held = compressed ? this.decompress(body.subarray(1), target) : body.length - 1;
    if (held !== target.length)
      throw new BlobDamaged(`it holds ${held} bytes, but its index says ${target.length}`);
    if (!compressed) body.copy(target, 0, 1);
    if (!timingSafeEqual(chunkIdOf(keys, target), id))
      throw new BlobDamaged('its content does not match its id');
    return body;
  }

  /** Bytes written into `target`. */
  private decompress(payload: Uint8Array, target: Buffer): number {
    try {
      return this.decompressor.decompress(target, payload);
    } catch (error) {
      throw new BlobDamaged(`it does not decompress (${(error as Error).message})`);
    }
  }
}
