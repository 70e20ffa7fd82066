/** What the main thread and the chunk workers send each other (chunkPool.ts, chunkWorker.ts). */
import type { BlobKeys, BlobType, PackedBlob } from './blobCodec.js';
import type { CutMasks } from './chunker.js';

interface Job {
  id: number;
  keys: BlobKeys;
  type: BlobType;
}

export type ChunkRequest =
  /** Where cuts may fall in a block of the record stream (chunker.ts); the block comes back. */
  | { id: number; op: 'scan'; gear: Int32Array; masks: CutMasks; context: Uint8Array; data: Uint8Array }
  /** The chunk's id; the chunk comes back with it. */
  | (Job & { op: 'id'; data: Uint8Array })
  /** The stored blob of a chunk, and its id (computed here unless given). */
  | (Job & { op: 'seal'; data: Uint8Array; chunkId?: Uint8Array })
  /** The plaintexts of stored blobs, end to end, each checked against its id and length; `stored` comes back. */
  | (Job & { op: 'open'; stored: Uint8Array; blobs: PackedBlob[] });

export type ChunkReply =
  | {
      id: number;
      chunkId?: Uint8Array;
      data?: Uint8Array;
      /** A sealed blob, in parts (BlobCodec.seal). */
      stored?: Uint8Array[];
      cuts?: Int32Array;
      /** Buffers the worker used and hands back, so that it keeps no garbage of its own. */
      scratch?: Uint8Array[];
    }
  | { id: number; error: string; damaged: boolean };

/**
 * All the memory under a view, to hand over without a copy: blocks and chunks are views of buffers
 * their writer owns and reuses, and they travel to a thread and back whole. Never Node's shared
 * pool (which small Buffers live in), which would pull memory from under other Buffers.
 */
export function ownMemory(data: Uint8Array): ArrayBuffer[] {
  return data.buffer instanceof ArrayBuffer && data.buffer.byteLength > Buffer.poolSize ? [data.buffer] : [];
}
