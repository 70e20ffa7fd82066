/**
 * `node dist/scripts/measure-repository.js [--size 1GiB] [--backups 2] [--tree <folder>]`
 *
 * In-process cost of format 4's writer (not a test, no daemon): the bench's sample tree
 * (scripts/sampleData.ts) backed up as one Directory role into a repository in a local folder, the
 * tree changed by scripts/benchChurn.ts (in another process) between backups. Prints, for each
 * backup, wall and CPU seconds (all threads), MB/s of source bytes, bytes added, the process's RSS
 * before it and its peak RSS during it. Used to find where a backup's time and memory go, apart
 * from the daemon, RPC and roles.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { epochKeys, newEpochId } from '../src/crypto/epochKeys.js';
import { newEpochChunkIdFunction } from '../src/crypto/chunkId.js';
import { REPOSITORY_ROOT, epochFolder } from '../src/repository/layout.js';
import { RepositoryWriter } from '../src/repository/writer.js';
import { walkTree } from '../src/roles/treeWalker.js';
import { LocalFolderStore } from '../src/storage/localStore.js';
import type { FileCache } from '../src/repository/fileCache.js';
import { treeBytes } from './benchTree.js';
import { createInfrastructureTree } from './sampleData.js';
import { residentKb, resetPeakRss } from './processMemory.js';
import { MB, parseSize } from './sizes.js';

const argv = await yargs(hideBin(process.argv))
  .option('size', { type: 'string', default: '1GiB', describe: 'Bytes of the sample tree: <n>MiB|GiB' })
  .option('tree', {
    type: 'string',
    describe: 'Keep the sample tree in this folder (made if missing) for the next run',
  })
  .option('backups', {
    type: 'number',
    default: 2,
    describe: 'Backups, the tree changed before each but the first',
  })
  .strict()
  .parseAsync();

/** CPU seconds of each thread of this process, by thread name (/proc/self/task). */
function threadSeconds(): Map<string, number> {
  const seconds = new Map<string, number>();
  for (const task of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const key = task === String(process.pid) ? 'main' : `${name}-${task}`;
      seconds.set(key, (seconds.get(key) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // the thread ended meanwhile
    }
  }
  return seconds;
}

/**
 * scripts/benchChurn.ts's change, made by another process: its memory (SQLite's cache, the files it
 * rewrites) is not this one's, as it is not the daemon's in the bench.
 */
function changeTreeApart(tree: string, seed: string): void {
  const churn = new URL('./benchChurn.js', import.meta.url).href;
  const script = `import { changeSampleTree } from ${JSON.stringify(churn)}; changeSampleTree(${JSON.stringify(tree)}, ${JSON.stringify(seed)});`;
  execFileSync(process.execPath, ['--input-type=module', '--eval', script], { stdio: 'inherit' });
}

const work = mkdtempSync(path.join(tmpdir(), 'measure-repository-'));
try {
  const tree = argv.tree ?? path.join(work, 'tree');
  if (!existsSync(tree)) await createInfrastructureTree(tree, parseSize(argv.size));
  const source = treeBytes(tree);
  mkdirSync(path.join(work, 'store'));
  const store = new LocalFolderStore(path.join(work, 'store'));
  const keys = epochKeys(newEpochId(), randomBytes(32), newEpochChunkIdFunction());
  for (const folder of ['MASBackup', REPOSITORY_ROOT, epochFolder(keys.epoch)]) await store.mkdir(folder);
  let cache: FileCache = new Map();
  for (let backup = 1; backup <= argv.backups; backup += 1) {
    if (backup > 1) changeTreeApart(tree, `step ${backup}`);
    const startRssMb = residentKb('VmRSS') / 1024;
    resetPeakRss();
    const threadsBefore = threadSeconds();
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    const writer = await RepositoryWriter.open(store, keys);
    const role = await writer.storeRole(walkTree(tree, { listSmallFiles: true }), undefined, cache);
    await writer.finish();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const used = process.cpuUsage(cpu);
    cache = role.fileCache;
    console.log(
      JSON.stringify({
        backup,
        seconds: +seconds.toFixed(2),
        cpu_seconds: +((used.user + used.system) / 1e6).toFixed(2),
        mbps: +(source / MB / seconds).toFixed(1),
        added_mb: +(role.addedBytes / MB).toFixed(1),
        chunks: role.chunks,
        start_rss_mb: +startRssMb.toFixed(0),
        peak_rss_mb: +(residentKb('VmHWM') / 1024).toFixed(0),
        memory_mb: Object.fromEntries(
          Object.entries(process.memoryUsage()).map(([kind, bytes]) => [kind, Math.round(bytes / MB)]),
        ),
        threads: Object.fromEntries(
          [...threadSeconds()]
            .map(([name, after]): [string, number] => [
              name,
              +(after - (threadsBefore.get(name) ?? 0)).toFixed(2),
            ])
            .filter(([, used]) => used > 0.05),
        ),
      }),
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);
