/** What the main thread and the block workers send each other. */
import type { OpenRequest, SealRequest } from './blockCodec.js';

export type WorkerRequest =
  ({ op: 'seal' } & SealRequest & { id: number }) | ({ op: 'open' } & OpenRequest & { id: number });

/**
 * `data` is the result (a frame's three parts, or a block's plaintext); `spare` are the other large
 * buffers the job used, handed back so that the main thread reuses or collects them; a sealed frame
 * comes with its CRC-32.
 */
export type WorkerReply =
  | { id: number; data: Uint8Array[]; spare: Uint8Array[]; crc32?: number }
  | { id: number; error: string; damaged: boolean };

/**
 * The buffers to hand over without a copy: only memory nobody else shares. Small Buffers may live in
 * Node's shared allocation pool, and handing that over would pull it from under other Buffers.
 */
export function transferable(...buffers: Uint8Array[]): ArrayBuffer[] {
  const owned = new Set<ArrayBuffer>();
  for (const data of buffers) {
    const whole =
      data.buffer instanceof ArrayBuffer &&
      data.byteOffset === 0 &&
      data.byteLength === data.buffer.byteLength &&
      data.byteLength > Buffer.poolSize;
    if (whole) owned.add(data.buffer as ArrayBuffer);
  }
  return [...owned];
}
