/**
 * Chunk ids (format 4, docs/format.md "Chunks"): a keyed hash of a chunk's plaintext, so that the
 * share never learns a content hash. Every id of an epoch is made by one function, chosen when the
 * epoch starts and named in its manifests:
 * - `BLAKE3`, keyed BLAKE3 through @napi-rs/blake-hash (a native binding with prebuilt binaries;
 *   Node's crypto has no BLAKE3): 3.9 GB/s on 64 KiB chunks on one core of the test machine
 *   against HMAC-SHA256's 1.6, so about 0.5 CPU-s less for each GiB a backup stores and 0.35 for
 *   each GiB a restore reads (docs/benchmarks.md, "Format 4: keyed BLAKE3 chunk ids"). New epochs
 *   use it;
 * - `HMAC-SHA256`, the epochs started before it, and new ones where the binding cannot be loaded
 *   (a platform it ships no binary for): slower, never wrong.
 */
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { AzsError } from '../protocol/errors.js';

export type ChunkIdFunction = 'HMAC-SHA256' | 'BLAKE3';

/**
 * The function of an epoch that names none: every epoch started before BLAKE3 ids (its saved state
 * and its manifests say nothing of the function) makes its ids with HMAC-SHA256.
 */
export const UNNAMED_CHUNK_ID_FUNCTION: ChunkIdFunction = 'HMAC-SHA256';

interface Blake3Hasher {
  reset(): void;
  update(input: Uint8Array): unknown;
  digestBuffer(): Buffer;
}
interface Blake3Binding {
  Blake3Hasher: { newKeyed(key: Buffer): Blake3Hasher };
}

/** The binding, loaded at first use (format 3 never needs it), or why it could not be. */
let binding: { loaded: Blake3Binding } | { failure: string } | undefined;

function blake3Binding(): { loaded: Blake3Binding } | { failure: string } {
  if (!binding) {
    try {
      binding = { loaded: createRequire(import.meta.url)('@napi-rs/blake-hash') as Blake3Binding };
    } catch (error) {
      binding = { failure: (error as Error).message.split('\n')[0]! };
    }
  }
  return binding;
}

/** The function a new epoch's ids are made with: BLAKE3 wherever its binding loads. */
export function newEpochChunkIdFunction(): ChunkIdFunction {
  return 'loaded' in blake3Binding() ? 'BLAKE3' : 'HMAC-SHA256';
}

/** Throws, saying what to do, when this machine cannot make ids with `fn`. */
export function requireChunkIdFunction(fn: ChunkIdFunction): void {
  const outcome = fn === 'BLAKE3' ? blake3Binding() : undefined;
  if (outcome && 'failure' in outcome) {
    throw new AzsError(
      'BackupFailed',
      `This repository epoch's chunk ids are keyed BLAKE3, and its module (@napi-rs/blake-hash) cannot be loaded on this machine (${outcome.failure}). Reinstall AzureStackBackup's dependencies (npm ci) on a platform the module supports, or read the backup on such a machine.`,
    );
  }
}

/**
 * The last keyed hasher made, by its key: a thread makes ids under one epoch's key at a time, and
 * making a hasher costs as much as hashing 10–20 KiB.
 */
let lastHasher: { key: Buffer; hasher: Blake3Hasher } | undefined;

function blake3Hasher(key: Uint8Array): Blake3Hasher {
  const view = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  if (!lastHasher?.key.equals(view)) {
    requireChunkIdFunction('BLAKE3');
    const { loaded } = blake3Binding() as { loaded: Blake3Binding };
    const own = Buffer.from(view);
    lastHasher = { key: own, hasher: loaded.Blake3Hasher.newKeyed(own) };
  }
  return lastHasher.hasher;
}

/** The id of `plaintext` under `key` (32 bytes) with `fn`. */
export function chunkIdWith(fn: ChunkIdFunction, key: Uint8Array, plaintext: Uint8Array): Buffer {
  if (fn === 'HMAC-SHA256') return createHmac('sha256', key).update(plaintext).digest();
  const hasher = blake3Hasher(key);
  hasher.reset();
  hasher.update(plaintext);
  return hasher.digestBuffer();
}
