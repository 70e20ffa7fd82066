/** The store contract against a real blob endpoint (Azurite), and its failures made real. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isAzsError } from '../../src/protocol/errors.js';
import { parseBlobLocation } from '../../src/storage/blobLocation.js';
import { BlobStore } from '../../src/storage/blobStore.js';
import { openStore } from '../../src/storage/openStore.js';
import { RetryingStore } from '../../src/storage/smbRetry.js';
import type { StoreSettings } from '../../src/storage/store.js';
import { StoreError } from '../../src/storage/storeError.js';
import { AzuriteServer } from '../helpers/azurite.js';
import { BlobWriteLog } from '../helpers/blobWriteLog.js';
import { generated, readAll, storeConformance } from './storeConformance.js';

const MiB = 1024 * 1024;
const CONTAINER = 'backups';
/** Fault tests wait this little between retries. */
const QUICK_RETRY = { attempts: 2, firstDelayMs: 50, maxDelayMs: 50 };

let server: AzuriteServer;
before(async () => {
  server = await AzuriteServer.start();
  await server.createContainer(CONTAINER);
});
after(() => server.stop());

/** A container keeps no files on this machine, so nothing in it can be a link. */
const CONTAINER_SUITE = { keptInFiles: false };

function keySettings(path: string): StoreSettings {
  return { path, userName: AzuriteServer.account, password: AzuriteServer.key, requireEncryption: false };
}

storeConformance(
  'blob container on Azurite (account key)',
  async () => {
    const prefix = `store-${randomBytes(4).toString('hex')}`;
    return {
      // Small blocks, so that even the digests' 5 MiB file goes through several parallel blocks; the
      // SAS suite below runs the default size.
      store: new BlobStore(keySettings(`${server.containerUrl(CONTAINER)}/${prefix}`), { blockBytes: MiB }),
      overwrite: (relativePath, content) => server.overwrite(CONTAINER, `${prefix}/${relativePath}`, content),
    };
  },
  CONTAINER_SUITE,
);

storeConformance(
  'blob container on Azurite (SAS token), through openStore',
  async () => {
    const prefix = `sas-${randomBytes(4).toString('hex')}`;
    const sas = server.sas(CONTAINER, new Date(Date.now() + 3_600_000));
    const storePath = `${server.containerUrl(CONTAINER)}/${prefix}`;
    return {
      store: openStore({ path: storePath, userName: null, password: `?${sas}`, requireEncryption: false }),
      overwrite: (relativePath, content) => server.overwrite(CONTAINER, `${prefix}/${relativePath}`, content),
    };
  },
  CONTAINER_SUITE,
);

describe('blob store: failures', () => {
  it('reads account, container and prefix from either URL form, and refuses a SAS in the URL', () => {
    assert.deepEqual(parseBlobLocation('https://acct.blob.core.windows.net/c1/stamp/one'), {
      containerUrl: 'https://acct.blob.core.windows.net/c1',
      account: 'acct',
      container: 'c1',
      prefix: 'stamp/one/',
      https: true,
    });
    assert.deepEqual(parseBlobLocation('http://127.0.0.1:10000/devstoreaccount1/c1'), {
      containerUrl: 'http://127.0.0.1:10000/devstoreaccount1/c1',
      account: 'devstoreaccount1',
      container: 'c1',
      prefix: '',
      https: false,
    });
    assert.throws(
      () => parseBlobLocation('https://acct.blob.core.windows.net/c1?sv=x&sig=y'),
      (error) => isAzsError(error, 'InvalidParameter') && !/sig=y/.test(error.message),
    );
    assert.throws(() => parseBlobLocation('https://acct.blob.core.windows.net/'), /names no container/);
  });

  it('opens a blob store for an http(s) path, retried', () => {
    assert.ok(openStore(keySettings(server.containerUrl(CONTAINER))) instanceof RetryingStore);
  });

  it('says it cannot tell its capacity, and which protocol it speaks', async () => {
    const store = new BlobStore(keySettings(server.containerUrl(CONTAINER)));
    assert.equal(await store.capacity(), null);
    assert.deepEqual(await store.sessionInfo(), {
      protocol: 'Azure Blob over HTTP',
      encrypted: false,
      signed: false,
    });
  });

  it('fails a missing container with PathNotFound, naming it', async () => {
    const store = new BlobStore(keySettings(server.containerUrl('no-such-container')));
    for (const operation of [() => store.checkRoot(), () => store.list(''), () => store.readFile('f')]) {
      await assert.rejects(
        operation(),
        (error) =>
          error instanceof StoreError &&
          error.reason === 'PathNotFound' &&
          error.facts.finding === 'no-container' &&
          /no-such-container/.test(error.message),
      );
    }
  });

  it('fails a wrong account key with AuthenticationFailed, the key nowhere in the message', async () => {
    const wrongKey = randomBytes(64).toString('base64');
    const store = new BlobStore({ ...keySettings(server.containerUrl(CONTAINER)), password: wrongKey });
    await assert.rejects(store.checkRoot(), (error) => {
      assert.ok(isAzsError(error, 'AuthenticationFailed'), String(error));
      assert.ok(!error.message.includes(wrongKey));
      return true;
    });
    await assert.rejects(store.writeFile('f', Readable.from([Buffer.from('x')])), (error) =>
      isAzsError(error, 'AuthenticationFailed'),
    );
  });

  it('fails an expired SAS with AuthenticationFailed, naming its expiry and never its signature', async () => {
    const expiry = new Date(Date.now() - 60_000);
    const sas = server.sas(CONTAINER, expiry);
    const signature = new URLSearchParams(sas).get('sig') ?? assert.fail('a SAS has a signature');
    const store = new BlobStore({ ...keySettings(server.containerUrl(CONTAINER)), password: sas });
    await assert.rejects(store.list(''), (error) => {
      assert.ok(error instanceof StoreError && error.reason === 'AuthenticationFailed', String(error));
      assert.equal(error.facts.finding, 'expired-sas');
      assert.match(error.message, new RegExp(expiry.toISOString().slice(0, 16)));
      assert.ok(!error.message.includes(signature) && !error.message.includes(encodeURIComponent(signature)));
      return true;
    });
  });

  it('fails with ShareUnreachable when the endpoint stops mid-upload; once back, only whole files are there', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'azs-azurite-'));
    let endpoint = await AzuriteServer.start({ folder });
    try {
      await endpoint.createContainer(CONTAINER);
      const store = new BlobStore(keySettings(endpoint.containerUrl(CONTAINER)), {
        blockBytes: MiB,
        blockRetry: QUICK_RETRY,
      });
      await store.writeFile('earlier.bin', Readable.from([Buffer.from('earlier')]));
      const source = generated(64 * MiB).stream;
      let sent = 0;
      const stopped = new Promise<void>((resolve) =>
        source.on('data', (chunk: Buffer) => {
          sent += chunk.length;
          if (sent === 8 * MiB) resolve(endpoint.stop());
        }),
      );
      await assert.rejects(store.writeFile('big.bin', source), (error) =>
        isAzsError(error, 'ShareUnreachable'),
      );
      await assert.rejects(store.checkRoot(), (error) => isAzsError(error, 'ShareUnreachable'));
      await stopped;
      endpoint = await endpoint.restart();
      assert.deepEqual(
        (await store.list('')).map((entry) => entry.name),
        ['earlier.bin'],
      );
      assert.equal((await readAll(store, 'earlier.bin')).toString(), 'earlier');
    } finally {
      await endpoint.stop();
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('fails a read whose endpoint stops mid-stream with ShareUnreachable', async () => {
    const own = await AzuriteServer.start();
    try {
      await own.createContainer(CONTAINER);
      const store = new BlobStore(keySettings(own.containerUrl(CONTAINER)));
      await store.writeFile('big.bin', generated(64 * MiB).stream);
      const chunks = (await store.readFile('big.bin'))[Symbol.asyncIterator]();
      await chunks.next();
      await own.stop();
      const readToEnd = async () => {
        while (!(await chunks.next()).done);
      };
      await assert.rejects(readToEnd(), (error) => isAzsError(error, 'ShareUnreachable'));
    } finally {
      await own.stop();
    }
  });

  it('retries a throttled request (503 ServerBusy) as the retry rules say: whole operations and each staged block', async () => {
    const proxy = await BlobWriteLog.start(server.accountUrl);
    const retries: string[] = [];
    const settings = keySettings(`${proxy.containerUrl(CONTAINER)}/throttled`);
    const policy = { ...QUICK_RETRY, attempts: 3, onRetry: (operation: string) => retries.push(operation) };
    const store = new RetryingStore(new BlobStore(settings, { blockBytes: MiB, blockRetry: policy }), policy);
    try {
      proxy.throttled = 2;
      assert.deepEqual(await store.list(''), []);
      const content = randomBytes(3 * MiB);
      proxy.throttled = 1;
      assert.equal(await store.writeFile('f', Readable.from([content])), content.length);
      assert.ok((await readAll(store, 'f')).equals(content));
      assert.deepEqual(retries, ['list', 'list', 'stageBlock']);
      proxy.throttled = 3;
      await assert.rejects(
        store.list(''),
        (error) =>
          isAzsError(error, 'ShareUnreachable') &&
          /busy or throttling requests \(HTTP 503 ServerBusy\)/.test(error.message),
      );
      await store.remove('f');
    } finally {
      await proxy.close();
    }
  });

  it('retries an unreachable endpoint as the retry rules say, then fails with ShareUnreachable', async () => {
    const own = await AzuriteServer.start();
    const url = own.containerUrl(CONTAINER);
    await own.stop();
    const retries: string[] = [];
    const store = new RetryingStore(new BlobStore(keySettings(url)), {
      ...QUICK_RETRY,
      onRetry: (operation) => retries.push(operation),
    });
    await assert.rejects(store.list(''), (error) => isAzsError(error, 'ShareUnreachable'));
    assert.deepEqual(retries, ['list']);
  });

  it('leaves no timer running after a request that got no answer (a stopping daemon would wait for it)', async () => {
    const own = await AzuriteServer.start();
    const url = own.containerUrl(CONTAINER);
    await own.stop();
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = timers();
    await assert.rejects(new BlobStore(keySettings(url)).list(''), (error) =>
      isAzsError(error, 'ShareUnreachable'),
    );
    assert.equal(timers(), before);
  });

  it('fails an endpoint that takes the connection and never answers with ShareUnreachable, in time', async () => {
    const silent = net.createServer(() => undefined).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as net.AddressInfo;
    const store = new BlobStore(
      keySettings(`http://127.0.0.1:${port}/${AzuriteServer.account}/${CONTAINER}`),
      {
        timeoutSeconds: 1,
      },
    );
    try {
      const started = Date.now();
      await assert.rejects(store.list(''), (error) => isAzsError(error, 'ShareUnreachable'));
      assert.ok(Date.now() - started < 5_000, `gave up after ${Date.now() - started} ms`);
    } finally {
      silent.close();
      silent.unref();
    }
  });

  it('fails a download whose body stalls with ShareUnreachable, in time; a reader that pauses is not cut', async () => {
    const direct = new BlobStore(keySettings(`${server.containerUrl(CONTAINER)}/stall`), {
      timeoutSeconds: 1,
    });
    const content = randomBytes(8 * MiB);
    await direct.writeFile('big', Readable.from([content]));
    const proxy = await stallingProxy(Number(new URL(server.accountUrl).port), MiB);
    const stalled = new BlobStore(
      keySettings(`http://127.0.0.1:${proxy.port}/${AzuriteServer.account}/${CONTAINER}/stall`),
      { timeoutSeconds: 1 },
    );
    try {
      const started = Date.now();
      await assert.rejects(
        readAll(stalled, 'big'),
        (error) => isAzsError(error, 'ShareUnreachable') && /nothing received for 1 s/.test(error.message),
      );
      assert.ok(Date.now() - started < 5_000, `gave up after ${Date.now() - started} ms`);
      // Backpressure is not a stall: a reader that waits before reading still gets every byte.
      const paused = await direct.readFile('big');
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const chunks: Buffer[] = [];
      for await (const chunk of paused) chunks.push(chunk as Buffer);
      assert.ok(Buffer.concat(chunks).equals(content));
    } finally {
      proxy.close();
      await direct.remove('big');
    }
  });

  it('doubles the block size after every blocksPerSize blocks, so a long file stays within 50,000 blocks', async () => {
    const store = new BlobStore(keySettings(`${server.containerUrl(CONTAINER)}/growing`), {
      blockBytes: 1024,
      blocksPerSize: 2,
    });
    const content = randomBytes(10 * 1024 + 100);
    await store.writeFile('f', Readable.from([content.subarray(0, 3000), content.subarray(3000)]));
    const { committedBlocks } = await server
      .containerClient(server.containerUrl(CONTAINER))
      .getBlockBlobClient('growing/f')
      .getBlockList('committed');
    assert.deepEqual(
      committedBlocks?.map((block) => block.size),
      [1024, 1024, 2048, 2048, 4096, 100],
    );
    assert.ok((await readAll(store, 'f')).equals(content));
    await store.remove('f');
  });

  it('commits a file only once whole: a failed rewrite keeps the earlier content', async () => {
    const store = new BlobStore(keySettings(`${server.containerUrl(CONTAINER)}/atomic`), { blockBytes: MiB });
    await store.writeFile('f', Readable.from([Buffer.from('earlier')]));
    const failingLate = Readable.from(
      (async function* () {
        yield randomBytes(5 * MiB); // several blocks staged before the source breaks
        throw new Error('source broke');
      })(),
    );
    await assert.rejects(store.writeFile('f', failingLate), /source broke/);
    assert.equal((await readAll(store, 'f')).toString(), 'earlier');
    await store.remove('f');
  });
});

/**
 * A TCP proxy to Azurite that passes each answer's first `bytes` and then nothing more, keeping the
 * connection open: a download that stalls half-way, as behind a half-dead network path.
 */
async function stallingProxy(upstreamPort: number, bytes: number): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    let passed = 0;
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.on('data', (data: Buffer) => {
      if (passed < bytes) client.write(data.subarray(0, bytes - passed));
      passed += data.length;
    });
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  return {
    port: (proxy.address() as net.AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      proxy.close();
    },
  };
}
