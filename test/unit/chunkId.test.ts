/**
 * Chunk ids (src/crypto/chunkId.ts): keyed BLAKE3 gives the official test vectors' keyed hashes,
 * a thread switching between epochs' keys gets each key's ids, and where the BLAKE3 module cannot
 * be loaded new epochs fall back to HMAC-SHA256 while a BLAKE3 epoch is refused, saying what to do.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chunkIdWith, newEpochChunkIdFunction } from '../../src/crypto/chunkId.js';
import { repoRoot } from '../helpers/pwsh.js';

/** BLAKE3's test_vectors/test_vectors.json: its key, and the first 32 bytes of `keyed_hash` by length. */
const VECTOR_KEY = Buffer.from('whats the Elvish word for friend', 'ascii');
const KEYED_HASHES: [number, string][] = [
  [0, '92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26'],
  [1, '6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b'],
  [1024, '75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4'],
  [1025, '357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69'],
];
/** The vectors' input: the bytes 0, 1, …, 250 repeated. */
const vectorInput = (length: number) => Buffer.from(Array.from({ length }, (_, index) => index % 251));

test('keyed BLAKE3 ids are the official test vectors’ keyed hashes', () => {
  for (const [length, hash] of KEYED_HASHES)
    assert.equal(
      chunkIdWith('BLAKE3', VECTOR_KEY, vectorInput(length)).toString('hex'),
      hash,
      `${length} bytes`,
    );
});

test('ids under one key, then another, then the first again are each key’s own', () => {
  const [first, second] = [randomBytes(32), randomBytes(32)];
  const chunk = randomBytes(70_000);
  const a = chunkIdWith('BLAKE3', first, chunk);
  const b = chunkIdWith('BLAKE3', second, chunk);
  assert.notDeepEqual(a, b);
  // The key in a buffer of its own, as each message to a thread brings it.
  assert.deepEqual(chunkIdWith('BLAKE3', new Uint8Array(first), chunk), a);
  assert.deepEqual(chunkIdWith('BLAKE3', second, chunk), b);
  assert.deepEqual(
    chunkIdWith('HMAC-SHA256', first, chunk),
    createHmac('sha256', first).update(chunk).digest(),
  );
});

test('new epochs use BLAKE3 where its module loads', () => {
  assert.equal(newEpochChunkIdFunction(), 'BLAKE3');
});

const work = mkdtempSync(path.join(os.tmpdir(), 'chunk-id-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('without the BLAKE3 module, new epochs use HMAC-SHA256 and a BLAKE3 epoch is refused', () => {
  // A preload that makes the module fail to load, as on a platform it ships no binary for.
  const preload = path.join(work, 'no-blake3.cjs');
  writeFileSync(
    preload,
    `const Module = require('node:module');
     const load = Module._load;
     Module._load = function (request, ...rest) {
       if (request === '@napi-rs/blake-hash') throw new Error("Cannot find module '@napi-rs/blake-hash'");
       return load.call(this, request, ...rest);
     };\n`,
  );
  const module = (file: string) =>
    JSON.stringify(pathToFileURL(path.join(repoRoot, 'dist', 'src', 'crypto', file)).href);
  const script = `const { newEpochChunkIdFunction } = await import(${module('chunkId.js')});
    const { epochKeys, newEpochId } = await import(${module('epochKeys.js')});
    process.stdout.write(newEpochChunkIdFunction() + '\\n');
    epochKeys(newEpochId(), Buffer.alloc(32), 'HMAC-SHA256');
    try { epochKeys(newEpochId(), Buffer.alloc(32), 'BLAKE3'); } catch (error) { process.stdout.write(error.reason + ': ' + error.message); }`;
  const run = spawnSync(process.execPath, ['--require', preload, '--input-type=module', '--eval', script], {
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  const [chosen, refusal] = run.stdout.split('\n');
  assert.equal(chosen, 'HMAC-SHA256');
  assert.match(
    refusal ?? '',
    /^BackupFailed: .*keyed BLAKE3.*@napi-rs\/blake-hash.*Cannot find module.*npm ci/,
  );
});
