/**
 * A compression worker thread: zstd's one-shot block functions (synchronous, native) on buffers the
 * main thread hands over. One job at a time per thread; the pool decides how many wait in line.
 */
import { parentPort } from 'node:worker_threads';
import zstd from 'zstd-napi/binding.js';
import type { WorkerReply, WorkerRequest } from './compressionPool.js';

const compressor = new zstd.CCtx();
const decompressor = new zstd.DCtx();

function handle(request: WorkerRequest): { reply: WorkerReply; transfer: ArrayBuffer[] } {
  const input = request.data;
  if (request.op === 'compress') {
    const output = Buffer.allocUnsafeSlow(zstd.compressBound(input.length));
    const length = compressor.compress(output, input, request.level);
    // Data that does not shrink goes back as it came: storing it raw costs nothing to read.
    const data = length < input.length ? output.subarray(0, length) : input;
    return {
      reply: { id: request.id, data, compressed: data !== input },
      transfer: [data.buffer as ArrayBuffer],
    };
  }
  const output = Buffer.allocUnsafeSlow(request.size);
  const length = decompressor.decompress(output, input);
  if (length !== request.size)
    throw new Error(`decompressed ${length} bytes where ${request.size} were recorded`);
  return {
    reply: { id: request.id, data: output, compressed: false },
    transfer: [output.buffer as ArrayBuffer],
  };
}

parentPort!.on('message', (request: WorkerRequest) => {
  try {
    const { reply, transfer } = handle(request);
    parentPort!.postMessage(reply, transfer);
  } catch (error) {
    const reply: WorkerReply = {
      id: request.id,
      error: error instanceof Error ? error.message : String(error),
    };
    parentPort!.postMessage(reply);
  }
});
