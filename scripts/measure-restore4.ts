/**
 * `node dist/scripts/measure-restore4.js [--size 1GiB] [--backups 2] [--runs 3] [--tree DIR] [--store DIR] [--write]`
 *
 * In-process cost of reading format 4 back (not a test, no daemon): the bench's sample tree
 * (scripts/sampleData.ts) backed up role by role (its five top folders) into a repository in a local
 * folder, the tree changed by scripts/benchChurn.ts before each backup but the first, as the bench
 * does; then the newest backup's roles read through RepositoryReader and dropped, `--runs` times.
 * With `--write`, each role's records are decoded and its tree written into a new folder (in the
 * system's temporary folder, removed after each read, untimed), as a restore does.
 * Each read prints wall and CPU seconds (all threads), MB/s of source bytes (10^6), the pack bytes it
 * read (against those the backup uses) and the peak RSS of the read alone (VmHWM, reset before it).
 * `--store` keeps the repository (and what the reads need, its data key included, in measure.json: a
 * store for measuring only) for the next run, so that two builds can be timed in turn on the same packs.
 */
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { type EpochKeys, epochKeys, newEpochId } from '../src/crypto/epochKeys.js';
import {
  type ChunkIdFunction,
  UNNAMED_CHUNK_ID_FUNCTION,
  newEpochChunkIdFunction,
} from '../src/crypto/chunkId.js';
import type { FileCache } from '../src/repository/fileCache.js';
import { REPOSITORY_ROOT, epochFolder, packPath } from '../src/repository/layout.js';
import { RepositoryReader } from '../src/repository/reader.js';
import { writeTree } from '../src/roles/treeWriter.js';
import { ByteReader } from '../src/archive/byteReader.js';
import { decodeRecords } from '../src/archive/records.js';
import { RepositoryWriter } from '../src/repository/writer.js';
import { walkTree } from '../src/roles/treeWalker.js';
import { LocalFolderStore } from '../src/storage/localStore.js';
import { changeSampleTree } from './benchChurn.js';
import { treeBytes } from './benchTree.js';
import { createInfrastructureTree } from './sampleData.js';
import { residentKb, resetPeakRss } from './processMemory.js';
import { MB, parseSize } from './sizes.js';

const argv = await yargs(hideBin(process.argv))
  .option('size', { type: 'string', default: '1GiB', describe: 'Bytes of the sample tree: <n>MiB|GiB' })
  .option('backups', {
    type: 'number',
    default: 2,
    describe: 'Backups, the tree changed before each but the first',
  })
  .option('runs', { type: 'number', default: 3, describe: 'Timed reads of the newest backup' })
  .option('tree', { type: 'string', describe: 'Keep the sample tree in this folder (made if missing)' })
  .option('write', {
    type: 'boolean',
    default: false,
    describe: "Decode each role's records and write its tree into a new folder, as a restore does",
  })
  .option('store', {
    type: 'string',
    describe: 'Keep the repository in this folder (reused if it holds one)',
  })
  .strict()
  .parseAsync();

/** What a read of the newest backup needs, kept beside a reused repository. */
interface Backup {
  epoch: string;
  dataKey: string;
  /** Absent in a repository kept from before BLAKE3 ids (UNNAMED_CHUNK_ID_FUNCTION). */
  chunkIdFunction?: ChunkIdFunction;
  /** Each role's list id. */
  lists: string[];
  packs: string[];
  sourceBytes: number;
}

const MEASURE_FILE = 'measure.json';

/** The tree's top folders: one role each, as the bench registers them. */
function roleFolders(tree: string): string[] {
  return readdirSync(tree, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => path.join(tree, entry.name));
}

/** `backups` backups of the tree into `store`, the tree changed before each but the first. */
async function writeBackups(
  store: LocalFolderStore,
  tree: string,
  keys: EpochKeys,
): Promise<Omit<Backup, 'dataKey' | 'chunkIdFunction'>> {
  for (const folder of ['MASBackup', REPOSITORY_ROOT, epochFolder(keys.epoch)]) await store.mkdir(folder);
  const caches = new Map<string, FileCache>();
  let newest: Omit<Backup, 'dataKey' | 'chunkIdFunction'> | undefined;
  for (let backup = 1; backup <= argv.backups; backup += 1) {
    if (backup > 1) changeSampleTree(tree, `step ${backup}`);
    const writer = await RepositoryWriter.open(store, keys);
    const roles = [];
    for (const folder of roleFolders(tree)) {
      const role = await writer.storeRole(walkTree(folder), undefined, caches.get(folder) ?? new Map());
      caches.set(folder, role.fileCache);
      roles.push(role);
    }
    await writer.finish();
    const packs = [...new Set(roles.flatMap((role) => writer.packsOf(role)))];
    newest = {
      epoch: keys.epoch,
      lists: roles.map((role) => role.list),
      packs,
      sourceBytes: treeBytes(tree),
    };
    console.log(JSON.stringify({ backup, packs: packs.length }));
  }
  return newest!;
}

async function prepare(storeFolder: string, tree: string): Promise<Backup> {
  const saved = path.join(storeFolder, MEASURE_FILE);
  if (existsSync(saved)) return JSON.parse(readFileSync(saved, 'utf8')) as Backup;
  if (!existsSync(tree)) await createInfrastructureTree(tree, parseSize(argv.size));
  mkdirSync(storeFolder, { recursive: true });
  const dataKey = randomBytes(32);
  const store = new LocalFolderStore(storeFolder);
  const chunkIdFunction = newEpochChunkIdFunction();
  const written = await writeBackups(store, tree, epochKeys(newEpochId(), dataKey, chunkIdFunction));
  const backup = { ...written, dataKey: dataKey.toString('hex'), chunkIdFunction };
  writeFileSync(saved, JSON.stringify(backup));
  return backup;
}

/**
 * Reads every role of the backup once: its stream dropped, or (`output`) its records decoded and its
 * tree written there; returns the pack bytes read and the stream's bytes.
 */
async function readBackup(
  store: LocalFolderStore,
  backup: Backup,
  output?: string,
): Promise<{ packBytes: number; streamBytes: number }> {
  const keys = epochKeys(
    backup.epoch,
    Buffer.from(backup.dataKey, 'hex'),
    backup.chunkIdFunction ?? UNNAMED_CHUNK_ID_FUNCTION,
  );
  const reader = await RepositoryReader.open(store, keys, new Set(backup.packs));
  let packBytes = 0;
  let streamBytes = 0;
  for (const [role, list] of backup.lists.entries()) {
    const stream = counted(
      reader.roleStream(list, (bytes) => (packBytes += bytes)),
      (bytes) => (streamBytes += bytes),
    );
    if (output)
      await writeTree(
        decodeRecords(new ByteReader(stream), 'measure', () => false),
        path.join(output, `${role}`),
      );
    else for await (const chunk of stream) void chunk;
  }
  return { packBytes, streamBytes };
}

async function* counted(
  stream: AsyncIterable<Buffer>,
  onBytes: (bytes: number) => void,
): AsyncGenerator<Buffer> {
  for await (const chunk of stream) {
    onBytes(chunk.length);
    yield chunk;
  }
}

const work = mkdtempSync(path.join(tmpdir(), 'measure-restore4-'));
try {
  const storeFolder = argv.store ?? path.join(work, 'store');
  const backup = await prepare(storeFolder, argv.tree ?? path.join(work, 'tree'));
  const store = new LocalFolderStore(storeFolder);
  const packBytesUsed = backup.packs.reduce(
    (total, pack) => total + statSync(path.join(storeFolder, packPath(backup.epoch, pack))).size,
    0,
  );
  for (let run = 1; run <= argv.runs; run += 1) {
    resetPeakRss();
    const rssBefore = residentKb('VmRSS') / 1024;
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    const output = argv.write ? path.join(work, `out-${run}`) : undefined;
    const { packBytes, streamBytes } = await readBackup(store, backup, output);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const used = process.cpuUsage(cpu);
    console.log(
      JSON.stringify({
        run,
        seconds: +seconds.toFixed(2),
        cpu_seconds: +((used.user + used.system) / 1e6).toFixed(2),
        mbps: +(backup.sourceBytes / MB / seconds).toFixed(1),
        stream_mb: +(streamBytes / MB).toFixed(1),
        packs_used: backup.packs.length,
        pack_mb_used: +(packBytesUsed / MB).toFixed(1),
        pack_mb_read: +(packBytes / MB).toFixed(1),
        rss_before_mb: +rssBefore.toFixed(0),
        peak_rss_mb: +(residentKb('VmHWM') / 1024).toFixed(0),
      }),
    );
    if (output) rmSync(output, { recursive: true, force: true });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);
