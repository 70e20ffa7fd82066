/** A worker thread of the local store's read-back digests (localDigest.ts). */
import { parentPort } from 'node:worker_threads';
import { type DigestRequest, answerDigest } from './localDigest.js';

// answerDigest turns every failure into an error reply, so nothing is lost there; should postMessage
// throw, the unhandled rejection ends this thread and the pool fails its jobs on the worker's 'error'.
parentPort!.on('message', (request: DigestRequest) => {
  void answerDigest(request).then((reply) => parentPort!.postMessage(reply));
});
