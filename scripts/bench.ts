/**
 * `npm run bench -- [--size 1GiB] [--store local|smb|blob] [--runs 2] [--settle 65] [--json]`
 * `npm run bench -- --incremental [--backups 7] [--size 1GiB] [--settle 65] [--json]`
 *
 * With --incremental, a series of backups of data that changes by about 1 % between them, into a
 * local folder store, with restic beside it where installed (scripts/benchIncremental.ts). Otherwise:
 * Generates infrastructure-like data, then alternates (warm page cache) a full backup through
 * Start-AzsBackup in real pwsh with a reference on the same data, and reports source MB/s of both,
 * their ratio, the daemon's peak memory and the compressed size. The reference is, for a local store,
 * the script `tar -cf - | zstd -3 -T2 | openssl enc -aes-256-ctr`; for an SMB store (a private loopback
 * Samba), `smbclient put` of a file of the stored backup's size, and the same script piped into
 * `smbclient put` is measured beside it; for a blob store (Azurite, its data in a folder on disk),
 * `@azure/storage-blob`'s `BlockBlobClient.uploadFile` of a file holding the stored backup's own
 * bytes, and beside it the script piped into the SDK's `uploadStream`. Then, in the same pwsh
 * session, Restore-AzsBackup of the backup just made alternates with the script's reverse
 * (`openssl enc -d | zstd -d | tar -x` of the script's own output, read from the store with the
 * store's plain client: for blobs, the SDK's download), and Test-AzsBackup with the .pfx with
 * `openssl enc -d | zstd -d > /dev/null`. With --json the last line is one JSON object (SPEC §7).
 *
 * Both sides are measured as an operator meets them: the backups run in one pwsh session, as from an
 * admin's open shell, after one backup that is not timed (a fresh pwsh spends over a core-second
 * compiling itself in the background while its first backups run), and each reference run writes a
 * new file, as each backup writes new files (on this virtual machine, writing into memory the page
 * cache has not used yet costs several times more than overwriting a file whose pages are there). For
 * the same reason each reference restore extracts into a new folder, as each restore writes new trees.
 * Each timed restore of either side starts `--settle` seconds after the one before ended: ext4 without
 * a journal (this machine's root) skips, one by one, inodes freed in the last 60 s when it creates a
 * file, so a side run right after the removal of the old trees would pay for the other's deletions.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { ContainerClient } from '@azure/storage-blob';
import { createConfigFolder, createInfrastructureTree, createResourceManagerDatabase } from './sampleData.js';
import { listTree, timed, treeBytes, treeDifferences, type TreeEntry } from './benchTree.js';
import { incrementalSeries, type BenchOutcome } from './benchIncremental.js';
import { PwshSession, quote } from '../test/helpers/pwshSession.js';
import { waitUntil } from '../test/helpers/waitUntil.js';
import { residentKb, resetPeakRss } from './processMemory.js';
import { MB, parseSize } from './sizes.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(repo, 'dist', 'src', 'cli', 'main.js');

const argv = await yargs(hideBin(process.argv))
  .option('size', { type: 'string', default: '1GiB', describe: 'Data size: <n>MB|GB|MiB|GiB' })
  .option('store', { choices: ['local', 'smb', 'blob'] as const, default: 'local' as const })
  .option('runs', { type: 'number', default: 2, describe: 'Timed runs of each side' })
  .option('json', { type: 'boolean', default: false })
  .option('settle', {
    type: 'number',
    default: 65,
    describe:
      'Seconds to wait before each timed restore of either side (ext4 without a journal skips inodes freed in the last 60 s one by one when it creates a file: docs/benchmarks.md)',
  })
  .option('incremental', {
    type: 'boolean',
    default: false,
    describe:
      'A series of backups into one local store, about 1 % of the data changed before each after the first, with restic beside it where installed (docs/benchmarks.md)',
  })
  .option('backups', { type: 'number', default: 7, describe: 'With --incremental: backups in the series' })
  .check(({ incremental, store, backups }) => {
    if (incremental && store !== 'local')
      throw new Error(
        `--incremental measures a local folder store only; --store ${store} is not measured with it`,
      );
    if (!Number.isInteger(backups) || backups < 2)
      throw new Error('--backups must be a whole number, 2 or more');
    return true;
  })
  .strict()
  .parseAsync();

const log = (text: string) => process.stderr.write(`bench: ${text}\n`);

/** The sample tree, made once per size (`.complete` marks one that is whole). */
async function generate(folder: string, bytes: number): Promise<void> {
  if (existsSync(path.join(folder, '.complete'))) return;
  log(`generating ${(bytes / MB).toFixed(0)} MB of sample data in ${folder}`);
  await createInfrastructureTree(folder, bytes);
}

/**
 * The reference scripts. They run in bash with their paths, key and file names in environment
 * variables, and with the store's client arguments (smbclient's share, port and user) as positional
 * parameters ("$@"), so that no value is ever quoted into a script's text. The key and IV are random
 * and not secrets; they are kept so that the script's own output can be decrypted again.
 */
const SCRIPT =
  'tar -cf - -C "$BENCH_DATA" --exclude=.complete . | zstd -3 -T2 -q | openssl enc -aes-256-ctr -K "$REF_KEY" -iv "$REF_IV"';
const DECRYPT = 'openssl enc -d -aes-256-ctr -K "$REF_KEY" -iv "$REF_IV" | zstd -d -q';
const scriptKey = { REF_KEY: randomBytes(32).toString('hex'), REF_IV: randomBytes(16).toString('hex') };

/**
 * Where a reference script's output is kept: bash text for the store's own plain client, or, for a
 * client that is a library (the blob SDK), the bench's own calls on the script's standard streams.
 */
interface ScriptOutput {
  /** Follows the script: stores its standard output as "$REF_NAME" ('' where `library` does). */
  write: string;
  /** Precedes the reverse script: gives it "$REF_NAME" as standard input ('' where `library` does). */
  read: string;
  /** The positional parameters and environment that text needs (a password only ever in the environment). */
  args: string[];
  env: Record<string, string>;
  /** The plain client's writing and reading commands, as the figures name them (none for a folder). */
  clientNames?: { write: string; read: string };
  /** Stores the script's standard output as `name`, and reads `name` back for the reverse script. */
  library?: {
    upload(name: string, data: Readable): Promise<unknown>;
    download(name: string): Promise<Readable>;
  };
}

/** The backup a plain copy is compared with: its id, and its stored size as the cmdlet reports it. */
interface StoredBackup {
  id: string;
  compressedBytes: number;
  /** The daemon's own span of it (TimeTakenToCreate, until its roles' content is stored). */
  daemonSeconds: number;
}

/** Where the bench backs up to, and the plain tools its throughput is compared with there. */
interface BenchStore {
  env: Record<string, string>;
  configure: string;
  scriptOutput: ScriptOutput;
  /**
   * A plain copy of the stored size the backup is compared with (`pipeline_mbps`); without one, the
   * script itself is the reference.
   */
  transfer?: { name: string; seconds(backup: StoredBackup, run: number): Promise<number> };
  /** Figures of the store's own server for the JSON line, read before it is stopped. */
  figures?(): Record<string, number>;
  dispose(): Promise<void>;
}

/** The store's path with a user name and password (the password only ever in the environment). */
const CONFIGURE_WITH_CREDENTIAL =
  'Set-AzsBackupConfiguration -Path $env:BENCH_STORE -UserName $env:BENCH_USER -Password (ConvertTo-SecureString $env:BENCH_PASSWORD -AsPlainText -Force)';

/** A process's peak resident memory (VmHWM) in KiB. */
const peakRssKbOf = (pid: number) => residentKb('VmHWM', pid);
const megabytes = (kb: number) => Number((kb / 1024).toFixed(1));

async function localStore(folder: string): Promise<BenchStore> {
  mkdirSync(folder, { recursive: true });
  const outputs = path.join(work, 'pipeline');
  rmSync(outputs, { recursive: true, force: true });
  mkdirSync(outputs);
  return {
    env: { BENCH_STORE: folder },
    configure: 'Set-AzsBackupConfiguration -Path $env:BENCH_STORE',
    scriptOutput: {
      write: '> "$REF_FOLDER/$REF_NAME"',
      read: '< "$REF_FOLDER/$REF_NAME"',
      args: [],
      env: { REF_FOLDER: outputs },
    },
    dispose: async () => rmSync(outputs, { recursive: true, force: true }),
  };
}

/**
 * A private loopback Samba server. The backup is compared with `smbclient put` of a file of the stored
 * size, and with the script piped into `smbclient put` in the same encrypted session settings.
 */
async function smbStore(): Promise<BenchStore> {
  const { SambaServer } = await import('../test/helpers/samba.js');
  const server = await SambaServer.start();
  mkdirSync(path.join(server.sharePath('backup'), 'bench'), { recursive: true });
  execFileSync('chmod', ['-R', 'a+rwX', server.sharePath('backup')]);
  const sample = path.join(work, 'smb-reference.bin');
  return {
    env: {
      BENCH_STORE: server.uncPath('backup', 'bench'),
      BENCH_USER: server.user,
      BENCH_PASSWORD: server.password,
    },
    configure: CONFIGURE_WITH_CREDENTIAL,
    scriptOutput: {
      write: '| smbclient "$@" -c "put - $REF_NAME"',
      read: 'smbclient "$@" -c "get $REF_NAME -" |',
      args: server.smbclientArgs('encrypt'),
      env: { PASSWD: server.password },
      clientNames: { write: 'smbclient put', read: 'smbclient get' },
    },
    transfer: {
      name: 'smbclient put (stored size, encrypted session)',
      seconds: async ({ compressedBytes: compressed }) => {
        writeFileSync(sample, randomBytes(Math.max(1, compressed)));
        return timed(() => server.smbclient('encrypt', `put "${sample}" reference.bin`));
      },
    },
    dispose: async () => {
      rmSync(sample, { force: true });
      await server.dispose();
    },
  };
}

/**
 * Azurite's blob service, its data in a folder on disk (in memory it would hold every stored byte:
 * docs/benchmarks.md), with the development account's key given as an operator gives a key. The
 * backup is compared with the SDK's `uploadFile` of a file holding the stored backup's own bytes, and
 * with the script piped into the SDK's `uploadStream`; the reverse scripts read with its download.
 */
async function blobStore(): Promise<BenchStore> {
  const { AzuriteServer } = await import('../test/helpers/azurite.js');
  const folder = path.join(work, 'azurite');
  rmSync(folder, { recursive: true, force: true });
  const server = await AzuriteServer.start({ folder });
  const containerUrl = await server.createContainer('bench');
  const container = server.containerClient(containerUrl);
  const sample = path.join(work, 'blob-reference.bin');
  return {
    env: { BENCH_STORE: containerUrl, BENCH_USER: AzuriteServer.account, BENCH_PASSWORD: AzuriteServer.key },
    configure: CONFIGURE_WITH_CREDENTIAL,
    scriptOutput: {
      write: '',
      read: '',
      args: [],
      env: {},
      clientNames: { write: 'BlockBlobClient.uploadStream', read: 'BlobClient.download' },
      // The SDK's documented stream upload with its defaults (8 MiB blocks, 5 buffers), and its
      // download as one streamed Get Blob: in the bench's process, so no client start is timed.
      library: {
        upload: (name, data) => container.getBlockBlobClient(name).uploadStream(data),
        download: async (name) => {
          const body = (await container.getBlobClient(name).download(0)).readableStreamBody;
          if (!body) throw new Error(`blob ${name} came without a body`);
          return body as Readable;
        },
      },
    },
    transfer: {
      name: 'BlockBlobClient.uploadFile (the stored backup, SDK defaults)',
      seconds: async (backup, run) => {
        const stored = await downloadBackup(container, backup.id, sample);
        log(`reference file: the ${stored} bytes of backup ${backup.id}`);
        return timed(() => container.getBlockBlobClient(`reference-${run}.bin`).uploadFile(sample));
      },
    },
    figures: () => ({ azurite_peak_rss_mb: megabytes(peakRssKbOf(server.pid!)) }),
    dispose: async () => {
      await server.stop();
      rmSync(sample, { force: true });
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** Writes every blob of one backup, one after another, into `file`; returns how many bytes. */
async function downloadBackup(container: ContainerClient, backupId: string, file: string): Promise<number> {
  writeFileSync(file, '');
  let bytes = 0;
  for await (const blob of container.listBlobsFlat()) {
    if (!blob.name.split('/').includes(backupId)) continue;
    const body = (await container.getBlobClient(blob.name).download(0)).readableStreamBody;
    if (body) await pipeline(body, createWriteStream(file, { flags: 'a' }));
    bytes += blob.properties.contentLength ?? 0;
  }
  return bytes;
}

const bytes = parseSize(argv.size);
const work = path.join(repo, '.bench');
const generated = path.join(work, `data-${bytes}`);
// The series changes its data: a copy of the generated tree, so that the tree stays as generated.
const data = argv.incremental ? path.join(work, 'series-data') : generated;
const state = path.join(work, 'state');
const store = path.join(work, 'store');
// The certificate is made new each run (the cmdlet refuses to overwrite one), like the state and store.
const certs = path.join(work, 'certs');
// The reference restores' trees, a new folder each run.
const extracts = path.join(work, 'extract');
await generate(generated, bytes);
if (argv.incremental) {
  rmSync(data, { recursive: true, force: true });
  execFileSync('cp', ['-a', generated, data]);
  rmSync(path.join(data, '.complete'));
}
const sourceBytes = treeBytes(data);

spawnSync(process.execPath, [cli, 'stop', '--state-dir', state], { stdio: 'ignore' });
for (const folder of [state, store, certs, extracts]) rmSync(folder, { recursive: true, force: true });
mkdirSync(certs);
const stores = { local: () => localStore(store), smb: smbStore, blob: blobStore };
const target = await stores[argv.store]();
const env = {
  AZSBACKUP_HOME: state,
  BENCH_DATA: data,
  BENCH_CERTS: certs,
  ...target.env,
  // node-powershell 5.0.1 can miss a command's end when pwsh's keypad escapes and its end marker
  // arrive in one read, and the bench then waits forever (seen here after a backup that succeeded):
  // a dumb terminal gets no such escapes.
  TERM: 'dumb',
  // The deduplicating repository (issue 20) where the engine has it; an engine without it ignores this.
  ...(argv.incremental && { AZSBACKUP_FORMAT: '4' }),
};

/**
 * Seconds a reference script takes, with the store's library client (if any) on its standard output
 * (`writes`: the script stores "$REF_NAME") or input (`reads`); `variables` name its output and folders.
 */
function timeScript(
  text: string,
  variables: { REF_NAME: string } & Record<string, string>,
  direction: 'writes' | 'reads',
): Promise<number> {
  const output = target.scriptOutput;
  const library = output.library;
  const piped = (side: 'writes' | 'reads') => (library && direction === side ? 'pipe' : 'ignore');
  return timed(async () => {
    const child = spawn('bash', ['-c', `set -o pipefail; ${text}`, 'bench', ...output.args], {
      env: { ...process.env, BENCH_DATA: data, ...scriptKey, ...output.env, ...variables },
      stdio: [piped('reads'), piped('writes'), 'pipe'],
    });
    let errors = '';
    child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const exited = once(child, 'close').then(([code]) => {
      if (code !== 0) throw new Error(`reference script failed (${String(code)}): ${text}\n${errors}`);
    });
    const transfer = !library
      ? undefined
      : direction === 'writes'
        ? library.upload(variables.REF_NAME, child.stdout!)
        : library.download(variables.REF_NAME).then((body) => pipeline(body, child.stdin!));
    await Promise.all([exited, transfer]).catch((error: unknown) => {
      child.kill();
      throw error;
    });
  });
}

const scriptName = (run: number) => `script-${run}.out`;
const backupScript = (run: number) =>
  timeScript(`${SCRIPT} ${target.scriptOutput.write}`, { REF_NAME: scriptName(run) }, 'writes');
/** The reverse of the script, on the output of its last run (the same tree as the backup just made). */
const restoreScript = (run: number) => {
  const folder = path.join(extracts, `run-${run}`);
  mkdirSync(folder, { recursive: true });
  return timeScript(
    `${target.scriptOutput.read} ${DECRYPT} | tar -xf - -C "$REF_EXTRACT"`,
    { REF_NAME: scriptName(argv.runs), REF_EXTRACT: folder },
    'reads',
  );
};
const testScript = () =>
  timeScript(
    `${target.scriptOutput.read} ${DECRYPT} > /dev/null`,
    { REF_NAME: scriptName(argv.runs) },
    'reads',
  );

/** The bench's roles: the sample tree's two databases and three folders. */
const REGISTER_ROLES = `$null = Register-AzsInfrastructureRole -Name Domain -Provider Sqlite -Path "$env:BENCH_DATA/Domain/Domain.db"
   $null = Register-AzsInfrastructureRole -Name WAS -Provider Sqlite -Path "$env:BENCH_DATA/WAS/WAS.db"
   foreach ($n in 'KeyVaultDataPlane','ECE','Images') { $null = Register-AzsInfrastructureRole -Name $n -Provider Directory -Path "$env:BENCH_DATA/$n" }`;

log('configuring a bench deployment');
const shell = await PwshSession.start(env);
await shell.run(
  `$ErrorActionPreference='Stop'
   $p = [securestring]::new(); foreach ($c in [guid]::NewGuid().ToString().ToCharArray()) { $p.AppendChar($c) }
   $cert = New-AzsBackupEncryptionCertificate -CerPath "$env:BENCH_CERTS/bench.cer" -PfxPath "$env:BENCH_CERTS/bench.pfx" -PfxPassword $p
   $null = ${target.configure} -EncryptionCertPath $cert.CerPath
   ${REGISTER_ROLES}`,
);
const daemonPid = (
  JSON.parse(
    execFileSync(process.execPath, [cli, 'status', '--json', '--state-dir', state], { encoding: 'utf8' }),
  ) as { pid: number }
).pid;

/** The daemon's peak resident memory (VmHWM) in KiB since it started or since resetPeakRss. */
const peakRssKb = () => peakRssKbOf(daemonPid);
const resetDaemonPeakRss = () => resetPeakRss(daemonPid);

/** Runs pwsh that prints its figures last, separated by spaces, and returns them. */
async function pwshFigures(script: string, count: number): Promise<number[]> {
  const output = await shell.run(script);
  return output.split(/\s+/).slice(-count).map(Number);
}

/** One side of a comparison, and the seconds of each of its runs. */
interface Side {
  name: string;
  seconds(run: number): Promise<number>;
  runs: number[];
}
const side = (name: string, seconds: (run: number) => Promise<number>): Side => ({ name, seconds, runs: [] });

const mbps = (seconds: number) => Number((sourceBytes / MB / seconds).toFixed(1));

/**
 * Runs every side once per run, in turn, so that each meets the machine as the others do; `between`
 * runs before each side's run, outside the timing.
 */
async function alternate(
  phase: string,
  sides: Side[],
  between: () => void | Promise<void> = () => {},
): Promise<void> {
  for (let run = 1; run <= argv.runs; run += 1) {
    for (const each of sides) {
      await between();
      each.runs.push(await each.seconds(run));
      log(`${phase} run ${run}, ${each.name}: ${mbps(each.runs.at(-1)!)} MB/s of source`);
    }
  }
}

/** Through a pipe: GNU tar does not read the files at all when it writes straight to /dev/null. */
const warmPageCache = () =>
  execFileSync('bash', ['-c', 'tar -cf - -C "$1" . | cat > /dev/null', 'bench', data]);

/** The last backup made; the session keeps it as $b. */
const lastBackup: StoredBackup = { id: '', compressedBytes: 0, daemonSeconds: 0 };
/** Seconds of one Start-AzsBackup -Force in the session, which must succeed; keeps it as lastBackup. */
async function timeBackup(): Promise<number> {
  const [seconds, compressedKb, daemonSeconds] = await pwshFigures(
    `$b = $null; $t = Measure-Command { $b = Start-AzsBackup -Force }
     if ($b.Status -ne 'Succeeded') { throw "backup status $($b.Status)" }
     $span = [System.Xml.XmlConvert]::ToTimeSpan($b.TimeTakenToCreate).TotalSeconds
     "$($t.TotalSeconds) $($b.CompressedBackupSizeInKb) $span"`,
    3,
  );
  lastBackup.compressedBytes = compressedKb! * 1024;
  lastBackup.daemonSeconds = daemonSeconds!;
  lastBackup.id = await shell.run('$b.BackupId');
  return seconds!;
}

// In the session: $b is the backup just made, $p the .pfx's password (never on a command line).
const decryption = '-DecryptionCertPath "$env:BENCH_CERTS/bench.pfx" -DecryptionCertPassword $p';
/** Seconds of Restore-AzsBackup of every role of $b, which must restore them all. */
async function timeRestore(): Promise<number> {
  const [seconds] = await pwshFigures(
    `$ok = $null; $t = Measure-Command { $ok = Restore-AzsBackup -Name $b.BackupId ${decryption} -Force -PassThru }
     if (-not $ok) { throw 'Restore-AzsBackup did not restore every role' }
     "$($t.TotalSeconds)"`,
    1,
  );
  return seconds!;
}

/**
 * Waits until the data lists as `expected` again, outside the timing: a restore that removes the old
 * trees after it has returned would otherwise do so during the next side's run.
 */
async function untilDataLists(expected: Map<string, TreeEntry>, what: string): Promise<void> {
  let differences: string[] = [];
  const settled = () => {
    try {
      return (differences = treeDifferences(expected, listTree(data))).length === 0;
    } catch (error) {
      // An old tree vanished while it was listed: its removal is still under way.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  };
  const waited = await timed(() =>
    waitUntil(settled, `the restored data tree to be ${what}`, 60_000, 200).catch((error: Error) => {
      throw new Error(`${error.message}; differing: ${differences.slice(0, 10).join(', ')}`);
    }),
  );
  if (waited > 0.5) log(`the data tree was ${what} ${waited.toFixed(1)} s after the restore`);
}

// A restore leaves the disk work of the old trees it removed (the file system discards their blocks),
// a reference restore leaves its tree to write back: neither may slow the side that runs next.
const writeEverythingOut = () => void execFileSync('sync');
// A restore removes the old trees; a side that runs while those inodes were freed less than a minute
// ago creates its files several times slower on ext4 without a journal: each side starts after that.
const settleFreedInodes = async () => {
  writeEverythingOut();
  await sleep(argv.settle * 1000);
};

/** The full backup, restore and verification against the reference scripts (SPEC §7). */
async function fullComparison(): Promise<BenchOutcome> {
  log('warming up: the page cache, and pwsh and the daemon with one backup that is not timed');
  warmPageCache();
  await shell.run('$null = Start-AzsBackup -Force');
  const engineBackup = side('Start-AzsBackup', timeBackup);
  const clientNames = target.scriptOutput.clientNames;
  const script = side(
    `tar | zstd -3 -T2 | openssl enc -aes-256-ctr${clientNames ? ` | ${clientNames.write}` : ''}`,
    backupScript,
  );
  const transfer = target.transfer;
  const reference = transfer ? side(transfer.name, (run) => transfer.seconds(lastBackup, run)) : script;
  await alternate('backup', transfer ? [engineBackup, reference, script] : [engineBackup, reference]);
  const backupPeakRssKb = peakRssKb();

  // Restore-AzsBackup replaces the roles' data with the same content. Until the data tree is seen to be
  // exactly the generated one again, it is not marked complete: a bench stopped midway generates it anew.
  rmSync(path.join(data, '.complete'));
  const generatedTree = listTree(data);

  const engineRestore = side('Restore-AzsBackup', async () => {
    const seconds = await timeRestore();
    await untilDataLists(generatedTree, 'the generated one');
    return seconds;
  });
  const engineTest = side('Test-AzsBackup -DecryptionCertPath', async () => {
    const [seconds] = await pwshFigures(
      `$r = $null; $t = Measure-Command { $r = @(Test-AzsBackup -Name $b.BackupId ${decryption}) }
       if (@($r | Where-Object Status -ne 'Succeeded').Count) { throw 'Test-AzsBackup failed a role' }
       "$($t.TotalSeconds)"`,
      1,
    );
    return seconds!;
  });
  const read = clientNames ? `${clientNames.read} | ` : '';
  const restoreReference = side(`${read}openssl enc -d | zstd -d | tar -x`, restoreScript);
  const testReference = side(`${read}openssl enc -d | zstd -d > /dev/null`, testScript);

  log('warming up the recovery: one verification of each side and a -WhatIf restore, not timed');
  await engineTest.seconds(0);
  await testScript();
  await shell.run(`$null = Restore-AzsBackup -Name $b.BackupId ${decryption} -WhatIf`);
  resetDaemonPeakRss();
  await alternate('restore', [engineRestore, restoreReference], settleFreedInodes);
  const restorePeakRssKb = peakRssKb();
  await alternate('test', [engineTest, testReference], writeEverythingOut);
  writeFileSync(path.join(data, '.complete'), '');
  const storeFigures = target.figures?.() ?? {};

  function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  }
  const best = (each: Side) => mbps(Math.min(...each.runs));
  const typical = (each: Side) => mbps(median(each.runs));
  const ratio = (ours: number, theirs: number) => Number((ours / theirs).toFixed(2));

  /** `<name>_mbps`, `<name>_pipeline_mbps`, `<name>_ratio` and their typical (median) runs. */
  function comparison(name: string, ours: Side, theirs: Side) {
    return {
      [`${name}_mbps`]: best(ours),
      [`${name}_pipeline_mbps`]: best(theirs),
      [`${name}_ratio`]: ratio(best(ours), best(theirs)),
      [`${name}_mbps_typical`]: typical(ours),
      [`${name}_pipeline_mbps_typical`]: typical(theirs),
      [`${name}_ratio_typical`]: ratio(typical(ours), typical(theirs)),
    };
  }

  const result = {
    store: argv.store,
    reference: reference.name,
    source_bytes: sourceBytes,
    engine_mbps: best(engineBackup),
    pipeline_mbps: best(reference),
    ratio: ratio(best(engineBackup), best(reference)),
    daemon_peak_rss_mb: megabytes(backupPeakRssKb),
    compressed_bytes: lastBackup.compressedBytes,
    engine_mbps_typical: typical(engineBackup),
    pipeline_mbps_typical: typical(reference),
    ...(transfer && {
      script: script.name,
      script_mbps: best(script),
      script_mbps_typical: typical(script),
      script_ratio: ratio(best(engineBackup), best(script)),
    }),
    ...comparison('restore', engineRestore, restoreReference),
    ...comparison('test', engineTest, testReference),
    restore_peak_rss_mb: megabytes(restorePeakRssKb),
    ...storeFigures,
  };

  /** `name best (typical) MB/s` for each side, and the ratio of their best runs. */
  const versus = (ours: Side, theirs: Side) =>
    `${[ours, theirs].map((each) => `${each.name} ${best(each)} (typical ${typical(each)}) MB/s`).join(' vs ')}, ratio ${ratio(best(ours), best(theirs))}`;
  const summary = [
    `source ${(sourceBytes / MB).toFixed(0)} MB to ${argv.store}`,
    `backup: ${versus(engineBackup, reference)}`,
    ...(transfer ? [`script: ${versus(engineBackup, script)}`] : []),
    `restore: ${versus(engineRestore, restoreReference)}`,
    `test: ${versus(engineTest, testReference)}`,
    `daemon peak RSS ${result.daemon_peak_rss_mb} MB backing up, ${result.restore_peak_rss_mb} MB restoring`,
    `compressed ${(lastBackup.compressedBytes / MB).toFixed(1)} MB`,
    ...Object.entries(storeFigures).map(([name, value]) => `${name} ${value}`),
  ];
  return { text: summary.join(' | '), result };
}

/**
 * The series of --incremental. Its warm-up backup (pwsh and the daemon, as the full comparison's) is of
 * two small roles of other data (a database and a folder of configuration files), alone: a backup of
 * the bench's roles would be the series' first. It stays in the store, counted in every size.
 */
async function series(): Promise<BenchOutcome> {
  log('warming up: the page cache, and pwsh and the daemon with a backup of two small roles of other data');
  const warmUp = path.join(work, 'warm-up');
  rmSync(warmUp, { recursive: true, force: true });
  mkdirSync(warmUp);
  createResourceManagerDatabase(path.join(warmUp, 'WarmUp.db'), 1000);
  createConfigFolder(path.join(warmUp, 'config'), 100);
  await shell.run(
    `$ErrorActionPreference='Stop'
     Get-AzsInfrastructureRole | Unregister-AzsInfrastructureRole -Confirm:$false
     $null = Register-AzsInfrastructureRole -Name WarmUpDatabase -Provider Sqlite -Path ${quote(path.join(warmUp, 'WarmUp.db'))}
     $null = Register-AzsInfrastructureRole -Name WarmUpFolder -Provider Directory -Path ${quote(path.join(warmUp, 'config'))}
     $w = Start-AzsBackup -Force
     if ($w.Status -ne 'Succeeded') { throw "warm-up backup status $($w.Status)" }
     Get-AzsInfrastructureRole | Unregister-AzsInfrastructureRole -Confirm:$false
     ${REGISTER_ROLES}`,
  );
  rmSync(warmUp, { recursive: true, force: true });
  warmPageCache();
  return incrementalSeries({
    data,
    store,
    work,
    backups: argv.backups,
    backup: async () => ({ seconds: await timeBackup(), daemonSeconds: lastBackup.daemonSeconds }),
    script: () => backupScript(1),
    restore: async (expected) => {
      const seconds = await timeRestore();
      await untilDataLists(expected, 'the one backed up');
      return seconds;
    },
    settle: settleFreedInodes,
    sync: writeEverythingOut,
    daemonPeakRssKb: peakRssKb,
    resetDaemonPeakRss,
    log,
  });
}

const outcome = argv.incremental ? await series() : await fullComparison();
await shell.dispose();
spawnSync(process.execPath, [cli, 'stop', '--state-dir', state], { stdio: 'ignore' });
await target.dispose();
rmSync(extracts, { recursive: true, force: true });
if (argv.incremental)
  for (const folder of [data, path.join(work, 'restic')]) rmSync(folder, { recursive: true, force: true });

process.stdout.write(`${outcome.text}\n`);
if (argv.json) process.stdout.write(`${JSON.stringify(outcome.result)}\n`);
