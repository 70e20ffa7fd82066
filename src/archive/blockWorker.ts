/**
 * A block worker thread: seals and opens blocks (zstd + AES-256-GCM, see blockCodec.ts) one at a
 * time, for the pool in blockPool.ts that decides how many wait in line.
 */
import { parentPort } from 'node:worker_threads';
import { BlockCodec, BlockDamaged } from './blockCodec.js';
import { type WorkerReply, type WorkerRequest, transferable } from './blockMessages.js';

const codec = new BlockCodec();

function reply(request: WorkerRequest): WorkerReply {
  try {
    const data = request.op === 'seal' ? codec.seal(request) : codec.open(request);
    return { id: request.id, data };
  } catch (error) {
    return { id: request.id, error: (error as Error).message, damaged: error instanceof BlockDamaged };
  }
}

parentPort!.on('message', (request: WorkerRequest) => {
  const answer = reply(request);
  parentPort!.postMessage(answer, 'data' in answer ? transferable(answer.data) : []);
});
