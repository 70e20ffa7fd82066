/**
 * `node dist/scripts/measure-restore.js [--size 1GiB] [--runs 3] [--keep DIR]`
 *
 * Where a restore's time goes (not a test, no daemon): makes the bench's sample tree (or reuses the
 * one in `--keep`), stores it as one Directory role file with writeRoleArchive, then times the restore
 * step by step, each step adding to the one before: reading and opening the blocks only; + decoding
 * the records (every content byte handed out); + writing the tree with writeTree into a new folder;
 * the whole DirectoryProvider restore over a live tree (write, swap; the old tree's removal, in the
 * background since issue 18, is waited for after the timing); the removal of a restored tree alone. For scale: `tar -x` of the same tree from a plain tar, and the reference
 * `openssl enc -d | zstd -d | tar -x`. `sync` runs (untimed) before each step so that one step's dirty
 * pages are not flushed inside the next. MB/s counts source bytes (10^6); best and typical (median)
 * of `--runs`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BlockPool } from '../src/archive/blockPool.js';
import { ROLE_FILE_VERSION, readRoleArchive, writeRoleArchive } from '../src/archive/index.js';
import { openBlocks } from '../src/archive/sealedBlocks.js';
import { DirectoryProvider } from '../src/roles/directory.js';
import { walkTree } from '../src/roles/treeWalker.js';
import { writeTree } from '../src/roles/treeWriter.js';
import { createInfrastructureTree } from './sampleData.js';
import { MB, MEASURED_FILE_ID as FILE_ID, SAMPLE_TREE_OPTIONS, parseSize } from './sizes.js';

const argv = await yargs(hideBin(process.argv))
  .options(SAMPLE_TREE_OPTIONS)
  .option('steps', {
    type: 'string',
    default: 'blocks,records,write,restore,remove,tar,pipeline',
    describe: 'Steps to time, comma-separated',
  })
  .strict()
  .parseAsync();

/** The bench's sample tree (scripts/sampleData.ts), made once (`.complete` marks one that is whole). */
async function generate(folder: string, bytes: number): Promise<void> {
  if (!existsSync(path.join(folder, '.complete'))) await createInfrastructureTree(folder, bytes);
}

function sh(script: string, ...args: string[]): string {
  return execFileSync('bash', ['-c', `set -o pipefail; ${script}`, 'measure', ...args], { encoding: 'utf8' });
}

async function seconds(action: () => Promise<unknown>): Promise<number> {
  sh('sync');
  const started = process.hrtime.bigint();
  await action();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const work = mkdtempSync(
  path.join(argv.keep ? path.dirname(path.resolve(argv.keep)) : tmpdir(), 'measure-restore-'),
);
const tree = argv.keep ? path.resolve(argv.keep) : path.join(work, 'tree');
const key = randomBytes(32);
const pool = new BlockPool();
const stored = path.join(work, 'stored.azsb');
const options = { key, fileId: FILE_ID, formatVersion: ROLE_FILE_VERSION, pool };
const storedChunks = () => createReadStream(stored, { highWaterMark: 1024 * 1024 });

/** A fresh folder name for each write, removed (untimed, then synced) after the step. */
let outputs = 0;
const output = () => path.join(work, `out-${(outputs += 1)}`);

async function removeQuietly(folder: string): Promise<void> {
  rmSync(folder, { recursive: true, force: true });
  sh('sync');
}

const steps: Record<string, () => Promise<number>> = {
  blocks: () =>
    seconds(async () => {
      for await (const block of openBlocks(storedChunks(), options)) void block;
    }),
  records: () =>
    seconds(async () => {
      for await (const entry of readRoleArchive(storedChunks(), options)) {
        if (entry.content) for await (const chunk of entry.content) void chunk;
      }
    }),
  write: async () => {
    const folder = output();
    const time = await seconds(() => writeTree(readRoleArchive(storedChunks(), options), folder));
    await removeQuietly(folder);
    return time;
  },
  restore: async () => {
    const target = path.join(work, 'live');
    if (!existsSync(target)) await writeTree(readRoleArchive(storedChunks(), options), target);
    const role = {
      Name: 'Measure',
      Provider: 'Directory' as const,
      Path: target,
      BackupScript: null,
      RestoreScript: null,
      RegisteredTime: new Date().toISOString(),
    };
    const context = { stagingDir: work, signal: new AbortController().signal };
    const provider = new DirectoryProvider();
    let removal: Promise<string[]> | undefined;
    const time = await seconds(async () => {
      const result = await provider.restore(role, readRoleArchive(storedChunks(), options), context);
      removal = result.removePreviousData?.();
    });
    await removal; // the old tree, removed in the background, is gone before the next step
    sh('sync');
    return time;
  },
  remove: async () => {
    const folder = output();
    sh('tar -xf "$1" -C "$2"', `${stored}.tar`, (mkdirSync(folder), folder));
    return seconds(() => rm(folder, { recursive: true, force: true })); // as swap.ts removes an old tree
  },
  tar: async () => {
    const folder = output();
    mkdirSync(folder);
    const time = await seconds(async () => sh('tar -xf "$1" -C "$2"', `${stored}.tar`, folder));
    await removeQuietly(folder);
    return time;
  },
  pipeline: async () => {
    const folder = output();
    mkdirSync(folder);
    const time = await seconds(async () =>
      sh(
        `openssl enc -d -aes-256-ctr -K ${pipelineKey} -iv ${pipelineIv} -in "$1" | zstd -d -q | tar -xf - -C "$2"`,
        `${stored}.tar.zst.enc`,
        folder,
      ),
    );
    await removeQuietly(folder);
    return time;
  },
};
const pipelineKey = randomBytes(32).toString('hex');
const pipelineIv = randomBytes(16).toString('hex');

try {
  const bytes = parseSize(argv.size);
  await generate(tree, bytes);
  const source = Number(sh('du -sb --exclude=.complete "$1"', tree).split('\t')[0]);
  const { stream, summary } = writeRoleArchive(walkTree(tree), { key, fileId: FILE_ID, pool });
  await pipeline(stream, createWriteStream(stored));
  const { entries, files, storedBytes } = await summary;
  sh('tar -cf "$1" -C "$2" --exclude=.complete .', `${stored}.tar`, tree);
  sh(
    `zstd -3 -T2 -q -c "$1" | openssl enc -aes-256-ctr -K ${pipelineKey} -iv ${pipelineIv} > "$2"`,
    `${stored}.tar`,
    `${stored}.tar.zst.enc`,
  );
  console.log(
    `tree ${(source / MB).toFixed(0)} MB, ${entries} entries (${files} files), stored ${(storedBytes / MB).toFixed(0)} MB; ` +
      `MB/s of source bytes, best / typical (median) of ${argv.runs}`,
  );
  const chosen = argv.steps.split(',');
  const times = new Map<string, number[]>(chosen.map((step) => [step, []]));
  for (let run = 0; run < argv.runs; run += 1) {
    // Steps alternate within each run, so a noisy moment of the machine spreads over all of them.
    for (const step of chosen) times.get(step)!.push(await steps[step]!());
  }
  for (const [step, list] of times) {
    const sorted = [...list].sort((a, b) => a - b);
    const rate = (time: number) => (source / MB / time).toFixed(0);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(
      `${step.padEnd(9)} ${sorted[0]!.toFixed(2)} s (${rate(sorted[0]!)} MB/s) / ${median.toFixed(2)} s (${rate(median)} MB/s)`,
    );
  }
} finally {
  await pool.close();
  rmSync(work, { recursive: true, force: true });
}
