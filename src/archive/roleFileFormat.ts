/**
 * The fixed-size parts of a stored role file (docs/format.md, "Role files"): the file header
 * and each block's frame header. Both travel in clear and are authenticated with every block.
 */
import { AzsError } from '../protocol/errors.js';
import { FILE_SALT_BYTES } from '../crypto/chunkCipher.js';

export const ROLE_FILE_MAGIC = Buffer.from('AZSBROLE', 'ascii');
/**
 * The version this code writes; it reads every version from 1 up to it (docs/format.md, "Versioning").
 * A backup of format N holds role files of version N, and a reader insists on it: a manifest rewritten
 * to an older format (one without a MAC) no longer matches its role files, whose headers the blocks
 * authenticate. Version 3 entries may carry their owner (uid, gid).
 */
export const ROLE_FILE_VERSION = 3;
/** Version 1 follows each file's content with its SHA-256; version 2 relies on the blocks' GCM tags alone. */
export const hasContentHashes = (version: number): boolean => version === 1;
export const FILE_HEADER_BYTES = 32;
export const FRAME_HEADER_BYTES = 12;

export const MIN_BLOCK_SIZE = 64 * 1024;
export const MAX_BLOCK_SIZE = 16 * 1024 * 1024;
/** Measured with scripts/measure-archive.ts on the 2-core target; see docs/format.md. */
export const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024;

const ENCODING_RAW = 0;
const ENCODING_ZSTD = 1;
const FLAG_FINAL = 1;

export interface FileHeader {
  blockSize: number;
  salt: Buffer;
}

export interface ParsedFileHeader extends FileHeader {
  version: number;
}

export interface FrameHeader {
  compressed: boolean;
  final: boolean;
  /** Bytes of ciphertext after the header (the GCM tag follows them). */
  payloadLength: number;
  /** Bytes the block holds once decrypted and decompressed. */
  plainLength: number;
}

/** The error for any damage to a stored role file: what was found, and what to do. */
export function damaged(fileId: string, detail: string): AzsError {
  return new AzsError(
    'BackupCorrupt',
    `The stored file '${fileId}' is damaged: ${detail}. It was changed or cut short after the backup was written, so its data cannot be trusted; restore another backup (Test-AzsBackup checks every backup's files).`,
    { target: fileId },
  );
}

export function encodeFileHeader(header: FileHeader): Buffer {
  const bytes = Buffer.alloc(FILE_HEADER_BYTES);
  ROLE_FILE_MAGIC.copy(bytes, 0);
  bytes.writeUInt8(ROLE_FILE_VERSION, 8);
  bytes.writeUInt32BE(header.blockSize, 12);
  header.salt.copy(bytes, 16);
  return bytes;
}

export function parseFileHeader(bytes: Buffer, fileId: string): ParsedFileHeader {
  if (bytes.length < FILE_HEADER_BYTES) throw damaged(fileId, 'it is shorter than its header');
  if (!bytes.subarray(0, 8).equals(ROLE_FILE_MAGIC)) {
    throw damaged(fileId, 'it does not start like an AzureStackBackup role file');
  }
  const version = bytes.readUInt8(8);
  if (version < 1 || version > ROLE_FILE_VERSION) {
    throw new AzsError(
      'BackupCorrupt',
      `The stored file '${fileId}' has format version ${version}; this version of AzureStackBackup reads versions 1 to ${ROLE_FILE_VERSION}. Use the AzureStackBackup version that wrote the backup, or a newer one.`,
      { target: fileId },
    );
  }
  const blockSize = bytes.readUInt32BE(12);
  if (bytes.readUIntBE(9, 3) !== 0 || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE) {
    throw damaged(fileId, 'its header holds impossible values');
  }
  return { version, blockSize, salt: Buffer.from(bytes.subarray(16, 16 + FILE_SALT_BYTES)) };
}

export function encodeFrameHeader(frame: FrameHeader): Buffer {
  const bytes = Buffer.alloc(FRAME_HEADER_BYTES);
  bytes.writeUInt8(frame.compressed ? ENCODING_ZSTD : ENCODING_RAW, 0);
  bytes.writeUInt8(frame.final ? FLAG_FINAL : 0, 1);
  bytes.writeUInt32BE(frame.payloadLength, 4);
  bytes.writeUInt32BE(frame.plainLength, 8);
  return bytes;
}

/** Checks what can be checked before decryption, so a damaged header never makes us allocate much. */
export function parseFrameHeader(
  bytes: Buffer,
  blockSize: number,
  fileId: string,
  index: number,
): FrameHeader {
  const encoding = bytes.readUInt8(0);
  const flags = bytes.readUInt8(1);
  const frame: FrameHeader = {
    compressed: encoding === ENCODING_ZSTD,
    final: (flags & FLAG_FINAL) !== 0,
    payloadLength: bytes.readUInt32BE(4),
    plainLength: bytes.readUInt32BE(8),
  };
  const valid =
    (encoding === ENCODING_RAW || encoding === ENCODING_ZSTD) &&
    (flags & ~FLAG_FINAL) === 0 &&
    bytes.readUInt16BE(2) === 0 &&
    frame.plainLength <= blockSize &&
    (frame.compressed
      ? frame.payloadLength > 0 && frame.payloadLength < frame.plainLength
      : frame.payloadLength === frame.plainLength);
  if (!valid) throw damaged(fileId, `block ${index} has an impossible header`);
  return frame;
}
