/**
 * `npm run bench -- [--size 1GiB] [--store local|smb] [--runs 2] [--json]`
 *
 * Generates infrastructure-like data, then alternates (warm page cache) a full backup through
 * Start-AzsBackup in real pwsh with a reference on the same data, and reports source MB/s of both,
 * their ratio, the daemon's peak memory and the compressed size. The reference is, for a local store,
 * `tar -cf - | zstd -3 -T2 | openssl enc -aes-256-ctr`; for an SMB store (a private loopback Samba),
 * `smbclient put` of a file of the stored backup's size. With --json the last line is one JSON
 * object (SPEC §7).
 *
 * Both sides are measured as an operator meets them: the backups run in one pwsh session, as from an
 * admin's open shell, after one backup that is not timed (a fresh pwsh spends over a core-second
 * compiling itself in the background while its first backups run), and each reference run writes a
 * new file, as each backup writes new files (on this virtual machine, writing into memory the page
 * cache has not used yet costs several times more than overwriting a file whose pages are there).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import {
  createConfigFolder,
  createDomainDatabase,
  createImageFile,
  createResourceManagerDatabase,
  createSecretFolder,
} from './sampleData.js';
import { PwshSession } from '../test/helpers/pwshSession.js';
import { parseSize } from './sizes.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(repo, 'dist', 'src', 'cli', 'main.js');
const MB = 1_000_000;

const argv = await yargs(hideBin(process.argv))
  .option('size', { type: 'string', default: '1GiB', describe: 'Data size: <n>MB|GB|MiB|GiB' })
  .option('store', { choices: ['local', 'smb'] as const, default: 'local' as const })
  .option('runs', { type: 'number', default: 2, describe: 'Timed runs of each side' })
  .option('json', { type: 'boolean', default: false })
  .strict()
  .parseAsync();

const log = (text: string) => process.stderr.write(`bench: ${text}\n`);

function treeBytes(folder: string): number {
  let total = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) total += treeBytes(full);
    else if (entry.isFile()) total += statSync(full).size;
  }
  return total;
}

/** Data mix: 10% SQLite, 15% random 32 KB secrets, 10% JSON/XML files of a few KB, 65% large images with zero runs. */
async function generate(folder: string, bytes: number): Promise<void> {
  if (existsSync(path.join(folder, '.complete'))) return;
  rmSync(folder, { recursive: true, force: true });
  log(`generating ${(bytes / MB).toFixed(0)} MB of sample data in ${folder}`);
  for (const role of ['Domain', 'WAS', 'KeyVaultDataPlane', 'ECE', 'Images'])
    mkdirSync(path.join(folder, role), { recursive: true });
  createDomainDatabase(
    path.join(folder, 'Domain', 'Domain.db'),
    Math.max(1000, Math.round((bytes * 0.07) / 250)),
  );
  createResourceManagerDatabase(
    path.join(folder, 'WAS', 'WAS.db'),
    Math.max(1000, Math.round((bytes * 0.03) / 250)),
  );
  const secretBytes = 32 * 1024;
  createSecretFolder(
    path.join(folder, 'KeyVaultDataPlane'),
    8,
    Math.max(1, Math.round((bytes * 0.15) / secretBytes / 8)),
    secretBytes,
  );
  createConfigFolder(path.join(folder, 'ECE'), Math.max(100, Math.round((bytes * 0.1) / 4000)));
  const images = 4;
  for (let index = 0; index < images; index += 1)
    await createImageFile(
      path.join(folder, 'Images', `disk-${index}.vhd`),
      Math.round((bytes * 0.65) / images),
    );
  writeFileSync(path.join(folder, '.complete'), '');
}

function timePipeline(data: string, out: string): number {
  const key = randomBytes(32).toString('hex');
  const iv = randomBytes(16).toString('hex');
  const started = process.hrtime.bigint();
  execFileSync('bash', [
    '-c',
    `set -o pipefail; tar -cf - -C "$1" --exclude=.complete . | zstd -3 -T2 -q | openssl enc -aes-256-ctr -K ${key} -iv ${iv} > "$2"`,
    'bench',
    data,
    out,
  ]);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Where the bench backs up to, and the plain tool its throughput is compared with there. */
interface BenchStore {
  env: Record<string, string>;
  configure: string;
  /** Seconds the reference takes for the same amount of data (source tree or stored size). */
  reference(compressedBytes: number): Promise<number>;
  referenceName: string;
  dispose(): Promise<void>;
}

async function localStore(folder: string, data: string): Promise<BenchStore> {
  mkdirSync(folder, { recursive: true });
  const outputs = path.join(work, 'pipeline');
  rmSync(outputs, { recursive: true, force: true });
  mkdirSync(outputs);
  let run = 0;
  return {
    env: { BENCH_STORE: folder },
    configure: 'Set-AzsBackupConfiguration -Path $env:BENCH_STORE',
    referenceName: 'tar | zstd -3 -T2 | openssl enc -aes-256-ctr',
    reference: async () => timePipeline(data, path.join(outputs, `run-${++run}.out`)),
    dispose: async () => rmSync(outputs, { recursive: true, force: true }),
  };
}

/** A private loopback Samba server; the reference is `smbclient put` of a file of the stored size. */
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
    configure:
      'Set-AzsBackupConfiguration -Path $env:BENCH_STORE -UserName $env:BENCH_USER -Password (ConvertTo-SecureString $env:BENCH_PASSWORD -AsPlainText -Force)',
    referenceName: 'smbclient put (stored size, encrypted session)',
    reference: async (compressed) => {
      writeFileSync(sample, randomBytes(Math.max(1, compressed)));
      const started = process.hrtime.bigint();
      await server.smbclient('encrypt', `put "${sample}" reference.bin`);
      return Number(process.hrtime.bigint() - started) / 1e9;
    },
    dispose: async () => {
      rmSync(sample, { force: true });
      await server.dispose();
    },
  };
}

const bytes = parseSize(argv.size);
const work = path.join(repo, '.bench');
const data = path.join(work, `data-${bytes}`);
const state = path.join(work, 'state');
const store = path.join(work, 'store');
// The certificate is made new each run (the cmdlet refuses to overwrite one), like the state and store.
const certs = path.join(work, 'certs');
await generate(data, bytes);
const sourceBytes = treeBytes(data);

spawnSync(process.execPath, [cli, 'stop', '--state-dir', state], { stdio: 'ignore' });
for (const folder of [state, store, certs]) rmSync(folder, { recursive: true, force: true });
mkdirSync(certs);
const target = argv.store === 'smb' ? await smbStore() : await localStore(store, data);
const env = { AZSBACKUP_HOME: state, BENCH_DATA: data, BENCH_CERTS: certs, ...target.env };
log('configuring a bench deployment');
const shell = await PwshSession.start(env);
await shell.run(
  `$ErrorActionPreference='Stop'
   $p = [securestring]::new(); foreach ($c in [guid]::NewGuid().ToString().ToCharArray()) { $p.AppendChar($c) }
   $cert = New-AzsBackupEncryptionCertificate -CerPath "$env:BENCH_CERTS/bench.cer" -PfxPath "$env:BENCH_CERTS/bench.pfx" -PfxPassword $p
   $null = ${target.configure} -EncryptionCertPath $cert.CerPath
   $null = Register-AzsInfrastructureRole -Name Domain -Provider Sqlite -Path "$env:BENCH_DATA/Domain/Domain.db"
   $null = Register-AzsInfrastructureRole -Name WAS -Provider Sqlite -Path "$env:BENCH_DATA/WAS/WAS.db"
   foreach ($n in 'KeyVaultDataPlane','ECE','Images') { $null = Register-AzsInfrastructureRole -Name $n -Provider Directory -Path "$env:BENCH_DATA/$n" }`,
);
const daemonPid = (
  JSON.parse(
    execFileSync(process.execPath, [cli, 'status', '--json', '--state-dir', state], { encoding: 'utf8' }),
  ) as { pid: number }
).pid;

log('warming up: the page cache, and pwsh and the daemon with one backup that is not timed');
// Through a pipe: GNU tar does not read the files at all when it writes straight to /dev/null.
execFileSync('bash', ['-c', 'tar -cf - -C "$1" . | cat > /dev/null', 'bench', data]);
await shell.run('$null = Start-AzsBackup -Force');
const pipelineSeconds: number[] = [];
const engineSeconds: number[] = [];
let compressedBytes = 0;
for (let run = 0; run < argv.runs; run += 1) {
  const output = await shell.run(
    `$b = $null; $t = Measure-Command { $b = Start-AzsBackup -Force }
     if ($b.Status -ne 'Succeeded') { throw "backup status $($b.Status)" }
     "$($t.TotalSeconds) $($b.CompressedBackupSizeInKb)"`,
  );
  const [seconds, compressedKb] = output.split(/\s+/).slice(-2).map(Number);
  engineSeconds.push(seconds!);
  compressedBytes = compressedKb! * 1024;
  log(`engine run ${run + 1}: ${(sourceBytes / MB / seconds!).toFixed(1)} MB/s`);
  pipelineSeconds.push(await target.reference(compressedBytes));
  log(
    `${target.referenceName} run ${run + 1}: ${(sourceBytes / MB / pipelineSeconds.at(-1)!).toFixed(1)} MB/s of source`,
  );
}
const peakRssKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${daemonPid}/status`, 'utf8'))?.[1] ?? 0);
await shell.dispose();
spawnSync(process.execPath, [cli, 'stop', '--state-dir', state], { stdio: 'ignore' });
await target.dispose();

const best = (values: number[]) => Math.min(...values);
const result = {
  store: argv.store,
  reference: target.referenceName,
  source_bytes: sourceBytes,
  engine_mbps: Number((sourceBytes / MB / best(engineSeconds)).toFixed(1)),
  pipeline_mbps: Number((sourceBytes / MB / best(pipelineSeconds)).toFixed(1)),
  ratio: 0,
  daemon_peak_rss_mb: Number((peakRssKb / 1024).toFixed(1)),
  compressed_bytes: compressedBytes,
};
result.ratio = Number((result.engine_mbps / result.pipeline_mbps).toFixed(2));
process.stdout.write(
  `source ${(sourceBytes / MB).toFixed(0)} MB to ${argv.store} | engine ${result.engine_mbps} MB/s | ${target.referenceName} ${result.pipeline_mbps} MB/s | ratio ${result.ratio} | daemon peak RSS ${result.daemon_peak_rss_mb} MB | compressed ${(compressedBytes / MB).toFixed(1)} MB\n`,
);
if (argv.json) process.stdout.write(`${JSON.stringify(result)}\n`);
