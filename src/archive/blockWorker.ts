/**
 * A block worker thread: seals and opens blocks (zstd + AES-256-GCM, see blockCodec.ts), one at a
 * time, for the pool in blockPool.ts that decides how many wait in line. Every large buffer goes
 * back to the main thread with the reply (see blockCodec.ts for why).
 */
import { parentPort } from 'node:worker_threads';
import { BlockCodec, BlockDamaged } from './blockCodec.js';
import { type WorkerReply, type WorkerRequest, transferable } from './blockMessages.js';

const codec = new BlockCodec();

async function reply(request: WorkerRequest): Promise<WorkerReply> {
  try {
    if (request.op === 'seal') {
      const { parts, crc32 } = codec.seal(request);
      return { id: request.id, data: parts, spare: [request.data], crc32 };
    }
    const { plaintext, scratch } = codec.open(request);
    return { id: request.id, data: [plaintext], spare: scratch ? [request.body, scratch] : [request.body] };
  } catch (error) {
    return { id: request.id, error: (error as Error).message, damaged: error instanceof BlockDamaged };
  }
}

// reply() turns every failure into an error reply, so nothing is lost there; should postMessage throw,
// the unhandled rejection ends this thread and the pool fails its jobs on the worker's 'error' event.
parentPort!.on('message', (request: WorkerRequest) => {
  void reply(request).then((answer) =>
    parentPort!.postMessage(answer, 'data' in answer ? transferable(...answer.data, ...answer.spare) : []),
  );
});
