/**
 * `node dist/scripts/measure-smb.js [--size 1GiB] [--runs 3] [--protection encrypt|sign|both]
 *   [--chunk-kib 2048] [--json]`
 *
 * Measures the SMB store against plain smbclient on a private loopback Samba server: the store's
 * writeFile (put + size check + rename) against `smbclient -c 'put file name'`, and its readFile
 * against `smbclient -c 'get name /dev/null'`, on the same file with the same client protection,
 * alternating the two so the page cache treats them alike. Prints MB/s (10^6 bytes/s) of both and
 * their ratio, and the time of one metadata call in the store's session against a whole smbclient
 * run (what each call cost before the store kept its sessions); with --json the last line is one
 * JSON object.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { SmbStore } from '../src/storage/smbStore.js';
import { SambaServer, type Protection } from '../test/helpers/samba.js';
import { MB, parseSize } from './sizes.js';

const argv = await yargs(hideBin(process.argv))
  .option('size', { type: 'string', default: '1GiB', describe: 'File size: <n>MB|GB|MiB|GiB' })
  .option('runs', { type: 'number', default: 3, describe: 'Timed runs of each side; the best counts' })
  .option('protection', { choices: ['encrypt', 'sign', 'both'] as const, default: 'both' as const })
  .option('chunk-kib', {
    type: 'number',
    default: 2048,
    describe: "Chunk size of the store's source stream (the engine hands it 2 MiB sealed blocks)",
  })
  .option('json', { type: 'boolean', default: false })
  .strict()
  .parseAsync();

const log = (text: string) => process.stderr.write(`measure-smb: ${text}\n`);

/** Random data in 1 MiB blocks: incompressible, like the encrypted backup files the store carries. */
async function makeFile(file: string, bytes: number): Promise<void> {
  let left = bytes;
  async function* blocks() {
    while (left > 0) {
      const block = randomBytes(Math.min(2 ** 20, left));
      left -= block.length;
      yield block;
    }
  }
  await pipeline(blocks, createWriteStream(file));
}

/** Seconds `action` takes. */
async function timed(action: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await action();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

interface Figures {
  protection: Protection;
  upload_store_mbps: number;
  upload_smbclient_mbps: number;
  upload_ratio: number;
  download_store_mbps: number;
  download_smbclient_mbps: number;
  download_ratio: number;
  /** One metadata call (a stat): through the store's session, and as a whole smbclient run. */
  call_store_ms: number;
  call_smbclient_ms: number;
}

async function measure(protection: Protection, file: string, bytes: number, runs: number): Promise<Figures> {
  // Encryption on the wire is what the store asks for by default ("desired"); to compare signing
  // alone, the server must not offer encryption.
  // The share sits on a tmpfs (room for both copies and the store's temporary one) so that the
  // server's disk does not set the pace of either side.
  const server = await SambaServer.start({
    shares: [{ name: 'backup', sizeMiB: Math.ceil((3.3 * bytes) / 2 ** 20) + 64 }],
    global: protection === 'sign' ? { 'server smb encrypt': 'off' } : {},
  });
  try {
    const store = new SmbStore({
      path: server.uncPath('backup'),
      userName: server.user,
      password: server.password,
      requireEncryption: protection === 'encrypt',
    });
    const session = await store.sessionInfo();
    log(`${protection}: ${session.protocol}, encrypted ${session.encrypted}, signed ${session.signed}`);
    const best = { storeUp: Infinity, plainUp: Infinity, storeDown: Infinity, plainDown: Infinity };
    for (let run = 1; run <= runs; run += 1) {
      best.plainUp = Math.min(
        best.plainUp,
        await timed(() => server.smbclient(protection, `put "${file}" plain.bin`)),
      );
      best.storeUp = Math.min(
        best.storeUp,
        await timed(() =>
          store.writeFile('store.bin', createReadStream(file, { highWaterMark: argv.chunkKib * 1024 })),
        ),
      );
      best.plainDown = Math.min(
        best.plainDown,
        await timed(() => server.smbclient(protection, 'get plain.bin /dev/null')),
      );
      best.storeDown = Math.min(
        best.storeDown,
        await timed(async () => pipeline(await store.readFile('store.bin'), sink())),
      );
      log(`${protection}: run ${run} of ${runs} done`);
    }
    const calls = await timeCalls(store, server, protection);
    const mbps = (seconds: number) => Math.round((bytes / MB / seconds) * 10) / 10;
    const figures = {
      protection,
      upload_store_mbps: mbps(best.storeUp),
      upload_smbclient_mbps: mbps(best.plainUp),
      download_store_mbps: mbps(best.storeDown),
      download_smbclient_mbps: mbps(best.plainDown),
    };
    return {
      ...figures,
      ...calls,
      upload_ratio: Math.round((figures.upload_store_mbps / figures.upload_smbclient_mbps) * 100) / 100,
      download_ratio: Math.round((figures.download_store_mbps / figures.download_smbclient_mbps) * 100) / 100,
    };
  } finally {
    await server.dispose();
  }
}

/**
 * The mean time of one stat() through the store's session, against one whole smbclient run (start,
 * negotiate, log on, tree connect, `ls`) as each store call cost before sessions were kept.
 */
async function timeCalls(
  store: SmbStore,
  server: SambaServer,
  protection: Protection,
): Promise<{ call_store_ms: number; call_smbclient_ms: number }> {
  const CALLS = 20;
  await store.stat('store.bin'); // the session is open before the clock starts
  const storeSeconds = await timed(async () => {
    for (let call = 0; call < CALLS; call += 1) await store.stat('store.bin');
  });
  const plainSeconds = await timed(async () => {
    for (let call = 0; call < CALLS; call += 1) await server.smbclient(protection, 'ls plain.bin');
  });
  const ms = (seconds: number) => Math.round((seconds / CALLS) * 10000) / 10;
  return { call_store_ms: ms(storeSeconds), call_smbclient_ms: ms(plainSeconds) };
}

function sink(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}

const bytes = parseSize(argv.size);
const work = await mkdtemp(path.join(os.tmpdir(), 'azs-measure-smb-'));
try {
  const file = path.join(work, 'payload.bin');
  log(`writing a ${bytes}-byte test file`);
  await makeFile(file, bytes);
  const modes: Protection[] = argv.protection === 'both' ? ['encrypt', 'sign'] : [argv.protection];
  const results: Figures[] = [];
  for (const mode of modes) results.push(await measure(mode, file, bytes, argv.runs));
  for (const r of results) {
    console.log(
      `${r.protection.padEnd(8)} upload: store ${r.upload_store_mbps} MB/s, smbclient put ${r.upload_smbclient_mbps} MB/s (ratio ${r.upload_ratio}); ` +
        `download: store ${r.download_store_mbps} MB/s, smbclient get ${r.download_smbclient_mbps} MB/s (ratio ${r.download_ratio}); ` +
        `one call: ${r.call_store_ms} ms in the session, ${r.call_smbclient_ms} ms as an smbclient run`,
    );
  }
  if (argv.json) console.log(JSON.stringify({ size_bytes: bytes, runs: argv.runs, results }));
} finally {
  await rm(work, { recursive: true, force: true });
}
