/**
 * A block worker thread: seals and opens blocks (zstd + AES-256-GCM, see blockCodec.ts), one at a
 * time, for the pool in blockPool.ts that decides how many wait in line. Every large buffer goes
 * back to the main thread with the reply (see blockCodec.ts for why); an open request's body and
 * target came in transferred, so they are this thread's whole to hand back, views or not.
 */
import { parentPort } from 'node:worker_threads';
import { BlockCodec, BlockDamaged } from './blockCodec.js';
import { type WorkerReply, type WorkerRequest, transferable } from './blockMessages.js';

const codec = new BlockCodec();

/** The reply and the buffers it hands over without a copy. */
function reply(request: WorkerRequest): { answer: WorkerReply; transfer: ArrayBuffer[] } {
  try {
    if (request.op === 'seal') {
      const { parts, crc32 } = codec.seal(request);
      const spare = [request.data];
      return {
        answer: { id: request.id, data: parts, spare, crc32 },
        transfer: transferable(...parts, ...spare),
      };
    }
    const { plaintext, scratch } = codec.open(request);
    const transfer = [...new Set([plaintext.buffer, request.body.buffer, ...transferable(scratch)])];
    return {
      answer: { id: request.id, data: [plaintext], spare: [request.body, scratch] },
      transfer: transfer as ArrayBuffer[],
    };
  } catch (error) {
    const answer = {
      id: request.id,
      error: (error as Error).message,
      damaged: error instanceof BlockDamaged,
    };
    return { answer, transfer: [] };
  }
}

// reply() turns every failure into an error reply, so nothing is lost there; should postMessage throw,
// the exception ends this thread and the pool fails its jobs on the worker's 'error' event.
parentPort!.on('message', (request: WorkerRequest) => {
  const { answer, transfer } = reply(request);
  parentPort!.postMessage(answer, transfer);
});
