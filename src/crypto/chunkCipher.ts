/**
 * Authenticated encryption of a file in chunks (AES-256-GCM), in the style of the STREAM construction:
 * every file gets its own key derived from the backup key, a random salt and the file's id, and every
 * chunk's nonce is its index plus a "last chunk" flag. A chunk that is changed, moved to another
 * place, taken from another file or backup, or a file cut short after any chunk, fails to open.
 * docs/format.md describes the bytes.
 */
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';

export const FILE_SALT_BYTES = 16;
export const CHUNK_TAG_BYTES = 16;
const NONCE_BYTES = 12;
const FINAL_FLAG = 1;
const KEY_INFO_PREFIX = 'AzureStackBackup chunk key v1\0';
const MANIFEST_KEY_INFO = 'AzureStackBackup manifest key v3';

/** HKDF-SHA256(backup key, salt, "AzureStackBackup chunk key v1\0" + fileId) → 32-byte file key. */
export function deriveFileKey(backupKey: Buffer, salt: Buffer, fileId: string): Buffer {
  const info = Buffer.from(KEY_INFO_PREFIX + fileId, 'utf8');
  return Buffer.from(hkdfSync('sha256', backupKey, salt, info, 32));
}

/**
 * HKDF-SHA256(backup key, empty salt, "AzureStackBackup manifest key v3") → the 32-byte key that
 * authenticates a backup's manifest (format version 3): only a holder of the backup key can make or
 * check the manifest's MAC, and the key is never used for anything else.
 */
export function deriveManifestKey(backupKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', backupKey, Buffer.alloc(0), MANIFEST_KEY_INFO, 32));
}

/** 8 bytes chunk index (big-endian) then 4 bytes flags, bit 0 set on the file's last chunk. */
export function chunkNonce(index: number, final: boolean): Buffer {
  const nonce = Buffer.alloc(NONCE_BYTES);
  nonce.writeBigUInt64BE(BigInt(index), 0);
  nonce.writeUInt32BE(final ? FINAL_FLAG : 0, 8);
  return nonce;
}

export interface ChunkPosition {
  index: number;
  final: boolean;
  /** Bytes authenticated with the chunk but stored in clear (the file and chunk headers). */
  aad: Buffer;
}

export function sealChunk(
  fileKey: Buffer,
  position: ChunkPosition,
  plaintext: Uint8Array,
): { ciphertext: Buffer; tag: Buffer } {
  const cipher = createCipheriv('aes-256-gcm', fileKey, chunkNonce(position.index, position.final));
  cipher.setAAD(position.aad);
  const ciphertext = cipher.update(plaintext);
  cipher.final(); // GCM emits nothing more at the end: no copy needed
  return { ciphertext, tag: cipher.getAuthTag() };
}

/**
 * The chunk's plaintext, or null when it does not authenticate. Nothing of an unauthenticated chunk
 * is returned: GCM's partial output is discarded unless the tag checks.
 */
export function openChunk(
  fileKey: Buffer,
  position: ChunkPosition,
  ciphertext: Uint8Array,
  tag: Uint8Array,
): Buffer | null {
  const decipher = createDecipheriv('aes-256-gcm', fileKey, chunkNonce(position.index, position.final), {
    authTagLength: CHUNK_TAG_BYTES,
  });
  decipher.setAAD(position.aad);
  decipher.setAuthTag(tag);
  const plaintext = decipher.update(ciphertext);
  try {
    decipher.final();
  } catch {
    return null;
  }
  return plaintext;
}
