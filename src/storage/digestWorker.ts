/** A worker thread of the local store's read-back digests (localDigest.ts). */
import { parentPort } from 'node:worker_threads';
import { type DigestRequest, answerDigest } from './localDigest.js';

parentPort!.on('message', async (request: DigestRequest) => {
  parentPort!.postMessage(await answerDigest(request));
});
