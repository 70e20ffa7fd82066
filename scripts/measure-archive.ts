/**
 * `node dist/scripts/measure-archive.js [--size 512MiB] [--block-sizes 1,4] [--threads 2] [--runs 2]`
 *
 * In-process throughput of the role data format (not a test, no daemon): writes data sets from files
 * through writeRoleArchive into a null sink, reads the result back through verifyRoleArchive, and times
 * the reference pipeline `tar -cf - | zstd -3 -T2 | openssl enc -aes-256-ctr` on the same files (warm
 * page cache). MB/s counts source bytes (10^6). Used to choose the block size and the pool size.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BlockPool } from '../src/archive/blockPool.js';
import type { ArchiveEntry } from '../src/archive/entry.js';
import { ROLE_FILE_VERSION, verifyRoleArchive, writeRoleArchive } from '../src/archive/index.js';
import { MB, parseSize } from './sizes.js';

const MiB = 1024 * 1024;

const argv = await yargs(hideBin(process.argv))
  .option('size', { type: 'string', default: '512MiB', describe: 'Bytes per data set: <n>MiB|GiB' })
  .option('block-sizes', {
    type: 'string',
    default: '1,2,4',
    describe: 'Block sizes to try, MiB, comma-separated',
  })
  .option('threads', { type: 'string', default: '2', describe: 'Pool sizes to try, comma-separated' })
  .option('runs', {
    type: 'number',
    default: 2,
    describe: 'Timed runs of each measurement (the best counts)',
  })
  .option('sets', { type: 'string', default: 'text,random,mixed', describe: 'Data sets to measure' })
  .strict()
  .parseAsync();

/** JSON lines with fresh ids: compresses about 4.7× with zstd -3, like configuration and logs. */
function textChunk(bytes: number, seed: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let index = seed; length < bytes; index += 1) {
    const line = `{"id":"${randomUUID()}","user":"user${index}@azurestack.local","state":"${index % 11 ? 'Enabled' : 'Disabled'}","quota":${index % 997},"created":"${new Date(1.7e12 + index * 60_000).toISOString()}"}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

type DataSet = 'text' | 'random' | 'mixed';

/** Writes one data set as a folder of 8 files; 'mixed' is the bench's mix (a quarter random, zero runs, text). */
async function generate(folder: string, set: DataSet, bytes: number): Promise<void> {
  mkdirSync(folder, { recursive: true });
  const files = 8;
  for (let file = 0; file < files; file += 1) {
    const out = createWriteStream(path.join(folder, `${set}-${file}.bin`));
    for (let written = 0; written < bytes / files; written += MiB) {
      const kind = set === 'mixed' ? ['random', 'zero', 'zero', 'text'][(written / MiB) % 4] : set;
      const chunk =
        kind === 'random' ? randomBytes(MiB) : kind === 'zero' ? Buffer.alloc(MiB) : textChunk(MiB, written);
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    await new Promise<void>((resolve) => out.end(() => resolve()));
  }
}

async function* entriesOf(folder: string): AsyncGenerator<ArchiveEntry> {
  for (const name of (await readdir(folder)).sort()) {
    const file = path.join(folder, name);
    const stat = statSync(file);
    yield {
      path: name,
      type: 'file',
      mode: stat.mode & 0o7777,
      mtimeMs: stat.mtimeMs,
      size: stat.size,
      content: () => createReadStream(file, { highWaterMark: 256 * 1024 }),
    };
  }
}

function folderBytes(folder: string): number {
  return execFileSync('du', ['-sb', folder], { encoding: 'utf8' }).split('\t').map(Number)[0]!;
}

interface Timing {
  seconds: number;
  /** CPU seconds of this process (all its threads) and of the children it waited for. */
  cpuSeconds: number;
}

/** CPU seconds used so far by this process and its waited-for children (Linux /proc, clock ticks of 10 ms). */
function cpuSecondsSoFar(): number {
  const own = process.cpuUsage();
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  const childTicks = Number(fields[13]) + Number(fields[14]); // cutime, cstime
  return (own.user + own.system) / 1e6 + childTicks / 100;
}

async function timed(action: () => Promise<unknown>): Promise<Timing> {
  const started = process.hrtime.bigint();
  const cpuStarted = cpuSecondsSoFar();
  await action();
  return {
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    cpuSeconds: cpuSecondsSoFar() - cpuStarted,
  };
}

/** Writes the archive to `out` (or discards it) and returns its stored size. */
async function writeArchive(folder: string, key: Buffer, blockSize: number, pool: BlockPool, out?: string) {
  const { stream, summary } = writeRoleArchive(entriesOf(folder), {
    key,
    fileId: 'Measure/Measure.azsb',
    blockSize,
    pool,
  });
  const sink = out ? createWriteStream(out) : new Writable({ write: (_chunk, _encoding, done) => done() });
  await pipeline(stream, sink);
  return (await summary).storedBytes;
}

function timePipeline(folder: string, out: string): Promise<Timing> {
  const key = randomBytes(32).toString('hex');
  const iv = randomBytes(16).toString('hex');
  const script = `set -o pipefail; tar -cf - -C "$1" . | zstd -3 -T2 -q | openssl enc -aes-256-ctr -K ${key} -iv ${iv} > "$2"`;
  return timed(async () => execFileSync('bash', ['-c', script, 'measure', folder, out]));
}

/** The fastest run as "MB/s (CPU ms per MB)": the CPU figure shows cost even on a busy machine. */
function best(timings: Timing[], bytes: number): string {
  const fastest = timings.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const cpu = Math.min(...timings.map((timing) => timing.cpuSeconds));
  return `${(bytes / MB / fastest.seconds).toFixed(0)} (${((cpu * 1000) / (bytes / MB)).toFixed(2)})`;
}

const work = mkdtempSync(path.join(tmpdir(), 'measure-archive-'));
try {
  const bytes = parseSize(argv.size);
  const key = randomBytes(32);
  console.log(
    `source ${(bytes / MB).toFixed(0)} MB per data set; MB/s of source data (CPU ms per MB); best of ${argv.runs}`,
  );
  console.log('data set | block | threads | write | verify | stored/source | pipeline');
  for (const set of argv.sets.split(',') as DataSet[]) {
    const folder = path.join(work, set);
    await generate(folder, set, bytes);
    const source = folderBytes(folder);
    execFileSync('bash', ['-c', 'cat "$1"/* > /dev/null', 'warm', folder]);
    const pipelineTimes: Timing[] = [];
    for (let run = 0; run < argv.runs; run += 1)
      pipelineTimes.push(await timePipeline(folder, path.join(work, 'pipeline.out')));
    for (const threads of argv.threads.split(',').map(Number)) {
      const pool = new BlockPool(threads);
      for (const blockSize of argv['block-sizes'].split(',').map((value) => Number(value) * MiB)) {
        const stored = path.join(work, 'stored.azsb');
        const writeTimes: Timing[] = [];
        let storedBytes = 0;
        for (let run = 0; run < argv.runs; run += 1) {
          writeTimes.push(
            await timed(async () => (storedBytes = await writeArchive(folder, key, blockSize, pool))),
          );
        }
        await writeArchive(folder, key, blockSize, pool, stored);
        const verifyTimes: Timing[] = [];
        for (let run = 0; run < argv.runs; run += 1) {
          verifyTimes.push(
            await timed(async () => {
              const result = await verifyRoleArchive(
                createReadStream(stored, { highWaterMark: 1024 * 1024 }),
                {
                  key,
                  fileId: 'Measure/Measure.azsb',
                  formatVersion: ROLE_FILE_VERSION,
                  pool,
                },
              );
              if (!result.ok) throw new Error(result.message);
            }),
          );
        }
        const cells = [
          set,
          `${blockSize / MiB} MiB`,
          threads,
          best(writeTimes, source),
          best(verifyTimes, source),
        ];
        cells.push((storedBytes / source).toFixed(3), best(pipelineTimes, source));
        console.log(cells.join(' | '));
      }
      await pool.close();
    }
    rmSync(folder, { recursive: true, force: true });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
