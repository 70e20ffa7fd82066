/**
 * A chunk worker thread: computes chunk ids, seals and opens blobs (blobCodec.ts) for chunkPool.ts.
 * Large buffers go back to the main thread with the reply, so this thread keeps no garbage of its own.
 */
import { parentPort } from 'node:worker_threads';
import { transferable } from '../archive/blockMessages.js';
import { BlobCodec, BlobDamaged, chunkIdOf } from './blobCodec.js';
import { scanCuts } from './chunker.js';
import { type ChunkReply, type ChunkRequest, ownMemory } from './chunkMessages.js';

const codec = new BlobCodec();

function reply(request: ChunkRequest): { answer: ChunkReply; transfer: ArrayBuffer[] } {
  try {
    // A block or chunk came in transferred (all of its memory, as a view): it goes back the same way.
    if (request.op === 'scan') {
      const cuts = scanCuts(request.gear, request.masks, request.context, request.data);
      return { answer: { id: request.id, cuts, data: request.data }, transfer: ownMemory(request.data) };
    }
    if (request.op === 'id') {
      const chunkId = chunkIdOf(request.keys, request.data);
      return { answer: { id: request.id, chunkId, data: request.data }, transfer: ownMemory(request.data) };
    }
    if (request.op === 'seal') {
      const chunkId = request.chunkId ?? chunkIdOf(request.keys, request.data);
      const stored = codec.seal(request.keys, request.type, chunkId, request.data);
      return {
        answer: { id: request.id, chunkId, stored, data: request.data },
        transfer: [...stored.flatMap((part) => ownMemory(part)), ...ownMemory(request.data)],
      };
    }
    const { plaintext, scratch } = codec.openPacked(
      request.keys,
      request.type,
      request.stored,
      request.blobs,
    );
    // The stored blobs go back with the scratch: nothing of them stays here as garbage either.
    return {
      answer: { id: request.id, data: plaintext, scratch: [...scratch, request.stored] },
      transfer: [...transferable(plaintext, ...scratch), ...ownMemory(request.stored)],
    };
  } catch (error) {
    return {
      answer: { id: request.id, error: (error as Error).message, damaged: error instanceof BlobDamaged },
      transfer: [],
    };
  }
}

parentPort!.on('message', (request: ChunkRequest) => {
  const { answer, transfer } = reply(request);
  parentPort!.postMessage(answer, transfer);
});
