/**
 * `node dist/scripts/measure-walker.js [--small 20000] [--large 2000] [--runs 3] [--keep DIR]`
 *
 * Speed of the Directory snapshot alone (no archive, no daemon): generates `--small` files of about
 * 4 KB and `--large` files of 32 KB in folders of 200, then walks the tree with walkTree and reads
 * every file's content the way the archive does (opened if only listed, then `readInto` a
 * block-sized buffer until it is done). The page cache is warmed by a first walk; the best of
 * `--runs` timed walks counts. For scale it also
 * times `tar -cf - . | cat > /dev/null` on the same tree (GNU tar skips reading when it writes
 * straight to /dev/null, hence the pipe). Prints files/s, MB/s (10^6 bytes) and µs per file.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { openedEntry } from '../src/archive/entry.js';
import { walkTree } from '../src/roles/treeWalker.js';
import { MB } from './sizes.js';

const FILES_PER_FOLDER = 200;

const argv = await yargs(hideBin(process.argv))
  .option('small', { type: 'number', default: 20_000, describe: 'Files of about 4 KB' })
  .option('large', { type: 'number', default: 2_000, describe: 'Files of 32 KB' })
  .option('runs', { type: 'number', default: 3, describe: 'Timed walks (the best counts)' })
  .option('keep', { type: 'string', describe: 'Reuse (or create and keep) this tree instead of a temp one' })
  .strict()
  .parseAsync();

/** Configuration-like text (JSON lines) of exactly `bytes` bytes. */
function configText(bytes: number, seed: number): Buffer {
  let text = '';
  for (let index = 0; text.length < bytes; index += 1) {
    text += `{"id":"${randomUUID()}","name":"setting${seed}.${index}","enabled":${index % 3 === 0}}\n`;
  }
  return Buffer.from(text.slice(0, bytes));
}

function generate(root: string, small: number, large: number): void {
  const sizes = [...Array<number>(small).fill(4096), ...Array<number>(large).fill(32 * 1024)];
  sizes.forEach((size, index) => {
    const folder = path.join(root, `folder-${String(Math.floor(index / FILES_PER_FOLDER)).padStart(4, '0')}`);
    if (index % FILES_PER_FOLDER === 0) mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, `item-${index}.json`), configText(size - (index % 97), index));
  });
}

interface Walk {
  files: number;
  bytes: number;
  seconds: number;
}

const block = Buffer.allocUnsafe(2 * 1024 * 1024);

async function timeWalk(root: string): Promise<Walk> {
  const started = performance.now();
  let files = 0;
  let bytes = 0;
  for await (const listed of walkTree(root)) {
    const entry = openedEntry(listed);
    if (!entry?.readInto) continue;
    files += 1;
    for (let count = await entry.readInto(block); count > 0; count = await entry.readInto(block))
      bytes += count;
  }
  return { files, bytes, seconds: (performance.now() - started) / 1000 };
}

function timeTar(root: string): number {
  const started = performance.now();
  execFileSync('bash', ['-c', 'tar -cf - . | cat > /dev/null'], { cwd: root, stdio: 'ignore' });
  return (performance.now() - started) / 1000;
}

function report(label: string, walk: Walk): void {
  const perFile = (walk.seconds * 1e6) / walk.files;
  console.log(
    `${label.padEnd(8)} ${walk.files} files, ${(walk.bytes / MB).toFixed(1)} MB in ${walk.seconds.toFixed(3)} s: ` +
      `${Math.round(walk.files / walk.seconds)} files/s, ${(walk.bytes / MB / walk.seconds).toFixed(1)} MB/s, ` +
      `${perFile.toFixed(1)} µs/file`,
  );
}

const root = argv.keep ?? mkdtempSync(path.join(tmpdir(), 'azs-measure-walker-'));
try {
  mkdirSync(root, { recursive: true });
  if (readdirSync(root).length === 0) generate(root, argv.small, argv.large);
  console.log(`tree: ${root}; UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '(default 4)'}`);
  await timeWalk(root); // warm the page cache
  const walks: Walk[] = [];
  for (let run = 0; run < argv.runs; run += 1) walks.push(await timeWalk(root));
  const best = walks.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  report('walker', best);
  const tarSeconds = Math.min(...Array.from({ length: argv.runs }, () => timeTar(root)));
  report('tar', { ...best, seconds: tarSeconds });
} finally {
  if (!argv.keep) rmSync(root, { recursive: true, force: true });
}
