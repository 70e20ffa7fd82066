/**
 * `node dist/scripts/measure-read.js [--size 1GiB] [--runs 3] [--keep DIR]`
 *
 * The CPU floor of Test-AzsBackup -DecryptionCertPath (not a test, no daemon): makes the bench's
 * sample tree (or reuses the one in `--keep`), stores it as one role file, then times each piece of
 * the verification alone on the main thread — reading the stored file, its SHA-256, AES-256-GCM of
 * every block, AES-GCM plus zstd (zstd is the difference), decoding the records (the blocks opened
 * beforehand, untimed) — and the whole verification as Test-AzsBackup runs it (block worker pool,
 * SHA-256 on the way), beside the reference `openssl enc -d | zstd -d > /dev/null`. Each figure is CPU
 * seconds (user + system) and wall seconds, best of `--runs`; docs/benchmarks.md says what they mean.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import zstd from 'zstd-napi/binding.js';
import { BlockCodec } from '../src/archive/blockCodec.js';
import { BlockPool } from '../src/archive/blockPool.js';
import { ByteReader } from '../src/archive/byteReader.js';
import { ROLE_FILE_VERSION, readRoleArchive, writeRoleArchive } from '../src/archive/index.js';
import { decodeRecords } from '../src/archive/records.js';
import {
  FILE_HEADER_BYTES,
  FRAME_HEADER_BYTES,
  type FrameHeader,
  hasContentHashes,
  parseFileHeader,
  parseFrameHeader,
} from '../src/archive/roleFileFormat.js';
import { readAndDiscard } from '../src/engine/recoveryPass.js';
import { CHUNK_TAG_BYTES, deriveFileKey, openChunk } from '../src/crypto/chunkCipher.js';
import { walkTree } from '../src/roles/treeWalker.js';
import { createInfrastructureTree } from './sampleData.js';
import { MB, MEASURED_FILE_ID as FILE_ID, SAMPLE_TREE_OPTIONS, parseSize } from './sizes.js';

const argv = await yargs(hideBin(process.argv)).options(SAMPLE_TREE_OPTIONS).strict().parseAsync();

const work = mkdtempSync(
  path.join(argv.keep ? path.dirname(path.resolve(argv.keep)) : tmpdir(), 'measure-read-'),
);
const tree = argv.keep ? path.resolve(argv.keep) : path.join(work, 'tree');
const stored = path.join(work, 'stored.azsb');
const key = randomBytes(32);
const pool = new BlockPool();
const storedChunks = () => createReadStream(stored, { highWaterMark: 1024 * 1024 });

interface Frame {
  index: number;
  frame: FrameHeader;
  frameHeader: Buffer;
  body: Buffer;
}

/** The stored file's frames, one by one, read as openBlocks reads them (no check beyond the headers). */
async function* frames(): AsyncGenerator<Frame & { fileKey: Buffer; fileHeader: Buffer; blockSize: number }> {
  const reader = new ByteReader(storedChunks());
  const fileHeader = Buffer.from(await reader.readExactly(FILE_HEADER_BYTES));
  const { blockSize, salt } = parseFileHeader(fileHeader, FILE_ID);
  const fileKey = deriveFileKey(key, salt, FILE_ID);
  const body = Buffer.allocUnsafeSlow(blockSize + CHUNK_TAG_BYTES);
  for (let index = 0, final = false; !final; index += 1) {
    const frameHeader = Buffer.from(await reader.readExactly(FRAME_HEADER_BYTES));
    const frame = parseFrameHeader(frameHeader, blockSize, FILE_ID, index);
    const length = frame.payloadLength + CHUNK_TAG_BYTES;
    await reader.readInto(body.subarray(0, length));
    final = frame.final;
    yield { index, frame, frameHeader, body: body.subarray(0, length), fileKey, fileHeader, blockSize };
  }
}

/** Every block opened on this thread; `timed` is the part of the work the caller counts. */
async function* plaintextBlocks(codec: BlockCodec): AsyncGenerator<Buffer> {
  let target = Buffer.alloc(0);
  for await (const { frame, ...rest } of frames()) {
    if (target.length < rest.blockSize) target = Buffer.allocUnsafeSlow(rest.blockSize);
    yield Buffer.from(codec.open({ ...rest, frame, final: frame.final, target }).plaintext);
  }
}

interface Cost {
  cpu: number;
  wall: number;
}

/** CPU (user + system, this process and its worker threads) and wall seconds of `action`. */
async function cost(action: () => Promise<unknown>): Promise<Cost> {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await action();
  const used = process.cpuUsage(cpu);
  return { cpu: (used.user + used.system) / 1e6, wall: Number(process.hrtime.bigint() - started) / 1e9 };
}

/** Seconds of `script`'s user + system CPU and wall, from bash's `time`. */
function shellCost(script: string, ...args: string[]): Cost {
  const out = execFileSync(
    'bash',
    ['-c', `TIMEFORMAT='%R %U %S'; { time { ${script}; } ; } 2>&1`, 'measure', ...args],
    { encoding: 'utf8' },
  );
  const [wall, user, system] = out.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { cpu: user! + system!, wall: wall! };
}

const codec = new BlockCodec();
const steps: Record<string, () => Promise<Cost>> = {
  'read the stored file': () =>
    cost(async () => {
      for await (const chunk of storedChunks()) void chunk;
    }),
  'SHA-256 of the stored bytes': async () => {
    const chunks: Buffer[] = [];
    let total: Cost = { cpu: 0, wall: 0 };
    // Hashed a piece at a time, outside the reading, so that only the hashing counts.
    for await (const chunk of storedChunks()) {
      chunks.push(chunk as Buffer);
      if (chunks.length === 64) total = add(total, await cost(async () => hashAll(chunks.splice(0))));
    }
    return add(total, await cost(async () => hashAll(chunks)));
  },
  'AES-256-GCM of every block': () =>
    sum(frames(), ({ fileKey, fileHeader, index, frame, frameHeader, body }) => {
      const aad = Buffer.concat([fileHeader, frameHeader]);
      openChunk(
        fileKey,
        { index, final: frame.final, aad },
        body.subarray(0, frame.payloadLength),
        body.subarray(frame.payloadLength),
      );
    }),
  'AES-GCM + zstd of every block': () =>
    sum(frames(), (request) => {
      codec.open({ ...request, final: request.frame.final, target: plainTarget(request.blockSize) });
    }),
  'decode the records (blocks opened beforehand)': async () => {
    const blocks = plaintextBlocks(codec);
    let opening: Cost = { cpu: 0, wall: 0 };
    // The blocks are opened on this thread too: their cost is counted apart and taken off.
    const timedBlocks = async function* () {
      for (;;) {
        let next: IteratorResult<Buffer> | undefined;
        opening = add(opening, await cost(async () => (next = await blocks.next())));
        if (next!.done) return;
        yield next!.value;
      }
    };
    const whole = await cost(() =>
      readAndDiscard(
        decodeRecords(new ByteReader(timedBlocks()), FILE_ID, () => hasContentHashes(ROLE_FILE_VERSION)),
      ),
    );
    return { cpu: whole.cpu - opening.cpu, wall: whole.wall - opening.wall };
  },
  'the whole verification (worker pool, SHA-256 on the way)': () =>
    cost(async () => {
      const hash = createHash('sha256');
      async function* hashed() {
        for await (const chunk of storedChunks()) {
          hash.update(chunk as Buffer);
          yield chunk as Buffer;
        }
      }
      await readAndDiscard(
        readRoleArchive(hashed(), { key, fileId: FILE_ID, formatVersion: ROLE_FILE_VERSION, pool }),
      );
      hash.digest();
    }),
  'reference: openssl enc -d | zstd -d > /dev/null': async () =>
    shellCost(
      `openssl enc -d -aes-256-ctr -K ${refKey} -iv ${refIv} -in "$1" | zstd -d -q > /dev/null`,
      `${stored}.tar.zst.enc`,
    ),
};
const refKey = randomBytes(32).toString('hex');
const refIv = randomBytes(16).toString('hex');

let target = Buffer.alloc(0);
function plainTarget(blockSize: number): Buffer {
  if (target.length < blockSize) target = Buffer.allocUnsafeSlow(blockSize);
  return target;
}

function hashAll(chunks: Buffer[]): void {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  hash.digest();
}

function add(a: Cost, b: Cost): Cost {
  return { cpu: a.cpu + b.cpu, wall: a.wall + b.wall };
}

/** The summed cost of `work` on each item, not counting how the items are produced. */
async function sum<T>(items: AsyncIterable<T>, work: (item: T) => void): Promise<Cost> {
  let total: Cost = { cpu: 0, wall: 0 };
  for await (const item of items) total = add(total, await cost(async () => work(item)));
  return total;
}

try {
  await (existsSync(path.join(tree, '.complete'))
    ? Promise.resolve()
    : createInfrastructureTree(tree, parseSize(argv.size)));
  const { stream, summary } = writeRoleArchive(walkTree(tree), { key, fileId: FILE_ID, pool });
  await pipeline(stream, createWriteStream(stored));
  const { sourceBytes, storedBytes } = await summary;
  execFileSync('bash', [
    '-c',
    `tar -cf - -C "$1" --exclude=.complete . | zstd -3 -T2 -q | openssl enc -aes-256-ctr -K ${refKey} -iv ${refIv} > "$2"`,
    'measure',
    tree,
    `${stored}.tar.zst.enc`,
  ]);
  console.log(
    `source ${(sourceBytes / MB).toFixed(0)} MB, stored ${(storedBytes / MB).toFixed(0)} MB, zstd ${zstd.versionString()}; ` +
      `seconds, best of ${argv.runs}: CPU (user + system) / wall, and MB/s of source for the wall`,
  );
  const best = new Map<string, Cost>();
  for (let run = 0; run < argv.runs; run += 1) {
    for (const [step, measure] of Object.entries(steps)) {
      const figure = await measure();
      const previous = best.get(step);
      if (!previous || figure.wall < previous.wall) best.set(step, figure);
    }
  }
  for (const [step, { cpu, wall }] of best) {
    console.log(
      `${step.padEnd(58)} ${cpu.toFixed(2)} / ${wall.toFixed(2)} s (${(sourceBytes / MB / wall).toFixed(0)} MB/s)`,
    );
  }
} finally {
  await pool.close();
  rmSync(work, { recursive: true, force: true });
}
