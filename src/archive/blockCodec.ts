/**
 * One block of a role file, both ways: compress (kept raw when that does not shrink it) then
 * encrypt into a frame; authenticate, decrypt, then decompress. Run in the worker threads so that
 * both cores compress and encrypt. Every large buffer a call allocates is returned to the caller
 * (as a result or as scratch), so a worker keeps no garbage of its own: its heap would only be
 * collected under its own memory pressure, and a few workers each holding tens of megabytes of
 * dead buffers would break the daemon's memory bound.
 */
import { crc32 } from 'node:zlib';
import zstd from 'zstd-napi/binding.js';
import { openChunk, sealChunk } from '../crypto/chunkCipher.js';
import { type FrameHeader, encodeFrameHeader } from './roleFileFormat.js';

export const COMPRESSION_LEVEL = 1;

/** Where a block belongs: the file's key and header, its index, and whether it is the last one. */
export interface BlockPosition {
  fileKey: Uint8Array;
  fileHeader: Uint8Array;
  index: number;
  final: boolean;
}

export interface SealRequest extends BlockPosition {
  data: Uint8Array;
}

export interface OpenRequest extends BlockPosition {
  frame: FrameHeader;
  frameHeader: Uint8Array;
  /** Ciphertext then the 16-byte tag. */
  body: Uint8Array;
  /** Where the plaintext goes: at least the block's plain length. */
  target: Uint8Array;
}

/** A block that fails to open: the message says how, for the operator's error. */
export class BlockDamaged extends Error {}

export class BlockCodec {
  private readonly compressor = new zstd.CCtx();
  private readonly decompressor = new zstd.DCtx();
  /** Reused for every block: compressed data lives here only until it is encrypted. */
  private compressed = Buffer.alloc(0);

  /**
   * The block's frame as its three parts (frame header, ciphertext, tag), and their CRC-32 for the
   * writer's checksum of the whole stored file (see crc32Combine.ts).
   */
  seal(request: SealRequest): { parts: Buffer[]; crc32: number } {
    const { payload, compressed } = this.compress(request.data);
    const frameHeader = encodeFrameHeader({
      compressed,
      final: request.final,
      payloadLength: payload.length,
      plainLength: request.data.length,
    });
    const { ciphertext, tag } = sealChunk(
      Buffer.from(request.fileKey),
      positionOf(request, frameHeader),
      payload,
    );
    const parts = [frameHeader, ciphertext, tag];
    return { parts, crc32: parts.reduce((crc, part) => crc32(part, crc), 0) };
  }

  /**
   * The block's plaintext, in `request.target` and released only after it authenticated, and the
   * decrypted payload, which was only scratch.
   */
  open(request: OpenRequest): { plaintext: Uint8Array; scratch: Buffer } {
    const { frame, body } = request;
    const plaintext = openChunk(
      Buffer.from(request.fileKey),
      positionOf(request, request.frameHeader),
      body.subarray(0, frame.payloadLength),
      body.subarray(frame.payloadLength),
    );
    if (!plaintext) {
      throw new BlockDamaged(
        `block ${request.index} fails authentication (it was changed, moved, or comes from another file or backup)`,
      );
    }
    const target = request.target.subarray(0, frame.plainLength);
    // A stored block is copied into the target too: the caller then reuses one kind of buffer only.
    if (frame.compressed) this.decompress(plaintext, target, request.index);
    else target.set(plaintext);
    return { plaintext: target, scratch: plaintext };
  }

  private compress(data: Uint8Array): { payload: Uint8Array; compressed: boolean } {
    const bound = zstd.compressBound(data.length);
    if (this.compressed.length < bound) this.compressed = Buffer.allocUnsafeSlow(bound);
    const output = this.compressed;
    const length = this.compressor.compress(output, data, COMPRESSION_LEVEL);
    // Data that does not shrink is stored as it is: reading it back then costs no decompression.
    return length < data.length
      ? { payload: output.subarray(0, length), compressed: true }
      : { payload: data, compressed: false };
  }

  private decompress(frame: Buffer, output: Uint8Array, index: number): void {
    let length: number;
    try {
      length = this.decompressor.decompress(output, frame);
    } catch (error) {
      throw new BlockDamaged(`block ${index} does not decompress (${(error as Error).message})`);
    }
    if (length !== output.length)
      throw new BlockDamaged(`block ${index} decompresses to ${length} bytes, not ${output.length}`);
  }
}

function positionOf(position: BlockPosition, frameHeader: Uint8Array) {
  return {
    index: position.index,
    final: position.final,
    aad: Buffer.concat([position.fileHeader, frameHeader]),
  };
}
