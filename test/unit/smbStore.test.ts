/**
 * The SMB store's faults and protections against real Samba servers: logon and path faults, a full
 * and a read-only share, server variants (signing, encryption, protocol floor), outages, and where
 * the password travels. The contract itself is in storeConformance-smb.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { advisedStore } from '../../src/engine/storeAdvice.js';
import { isAzsError } from '../../src/protocol/errors.js';
import type { ErrorReason } from '../../src/protocol/errors.js';
import { RetryingStore } from '../../src/storage/smbRetry.js';
import { SmbStore } from '../../src/storage/smbStore.js';
import type { SmbStoreOptions } from '../../src/storage/smbStore.js';
import type { StoreSettings } from '../../src/storage/store.js';
import { SambaServer } from '../helpers/samba.js';
import type { SambaOptions } from '../helpers/samba.js';
import { failing, generated, readAll } from './storeConformance.js';

const MiB = 1024 * 1024;

function storeOn(
  server: SambaServer,
  settings: Partial<StoreSettings> = {},
  options: SmbStoreOptions = {},
): SmbStore {
  return new SmbStore(
    {
      path: server.uncPath('backup'),
      userName: server.user,
      password: server.password,
      requireEncryption: false,
      ...settings,
    },
    options,
  );
}

/** Asserts that `operation` fails with `reason`, and that the message names no secret. */
async function rejectsWith(
  operation: Promise<unknown>,
  reason: ErrorReason,
  pattern: RegExp,
  secret?: string,
) {
  await assert.rejects(operation, (error) => {
    assert.ok(isAzsError(error, reason), `expected ${reason}, got ${(error as Error).stack}`);
    assert.match(error.message, pattern);
    if (secret) assert.ok(!error.message.includes(secret), 'the message holds the password');
    return true;
  });
}

/** Runs `body` against a server started with `options`, then disposes of it. */
function withServer(options: SambaOptions, body: (server: SambaServer) => Promise<void>) {
  return async () => {
    const server = await SambaServer.start(options);
    try {
      await body(server);
    } finally {
      await server.dispose();
    }
  };
}

describe('SMB store faults on a running server', () => {
  let server: SambaServer;
  before(async () => {
    server = await SambaServer.start({
      shares: [{ name: 'backup' }, { name: 'ro', readOnly: true }, { name: 'small', sizeMiB: 8 }],
    });
  });
  after(() => server.dispose());

  it('refuses a wrong password with AuthenticationFailed, naming the status but not the password', async () => {
    const wrong = `${server.password}-wrong`;
    await rejectsWith(
      storeOn(server, { password: wrong }).checkRoot(),
      'AuthenticationFailed',
      /NT_STATUS_LOGON_FAILURE/,
      wrong,
    );
  });

  it('logs on as DOMAIN\\user and as user@domain', async () => {
    await storeOn(server, { userName: `WORKGROUP\\${server.user}` }).checkRoot();
    await storeOn(server, { userName: `${server.user}@WORKGROUP` }).checkRoot();
  });

  it('reports an unknown share and an unknown folder as PathNotFound', async () => {
    await rejectsWith(
      storeOn(server, { path: server.uncPath('nosuch') }).checkRoot(),
      'PathNotFound',
      /BAD_NETWORK_NAME/,
    );
    const missing = storeOn(server, { path: server.uncPath('backup', 'no', 'such') });
    await rejectsWith(missing.checkRoot(), 'PathNotFound', /NT_STATUS_OBJECT_(PATH|NAME)_NOT_FOUND/);
    await rejectsWith(missing.writeFile('f', Readable.from([Buffer.from('x')])), 'PathNotFound', /NOT_FOUND/);
  });

  it('reports a full share as StoreFull and leaves no file behind', async () => {
    const store = storeOn(server, { path: server.uncPath('small') });
    const before = (await store.capacity()).availableBytes;
    await rejectsWith(
      store.writeFile('too-big.bin', generated(20 * MiB).stream),
      'StoreFull',
      /NT_STATUS_DISK_FULL/,
    );
    assert.deepEqual(await store.list(''), []);
    assert.equal((await store.capacity()).availableBytes, before, 'the partial upload was removed');
  });

  it('reports a read-only share as StoreAccessDenied', async () => {
    const store = storeOn(server, { path: server.uncPath('ro') });
    await store.checkRoot();
    await rejectsWith(
      store.writeFile('f', Readable.from([Buffer.from('x')])),
      'StoreAccessDenied',
      /ACCESS_DENIED/,
    );
    await rejectsWith(store.mkdir('d'), 'StoreAccessDenied', /ACCESS_DENIED/);
  });

  it('negotiates SMB 3.1.1 and uses encryption when the server offers it', async () => {
    assert.deepEqual(await storeOn(server).sessionInfo(), {
      protocol: 'SMB3_11',
      encrypted: true,
      signed: true,
    });
  });

  it('works with -RequireEncryption against a server that offers encryption', async () => {
    const store = storeOn(server, { requireEncryption: true });
    await store.writeFile('enc.bin', Readable.from([Buffer.from('sealed')]));
    assert.equal((await readAll(store, 'enc.bin')).toString(), 'sealed');
    assert.equal((await store.sessionInfo()).encrypted, true);
    await store.remove('enc.bin');
  });

  it('reaches the server by IPv6 address with a port', async () => {
    const store = storeOn(server, { path: `\\\\[::1]:${server.port}\\backup` });
    await store.checkRoot();
  });

  it('lists a folder whose listing is far longer than a message buffer', async () => {
    const folder = path.join(server.sharePath('backup'), 'many');
    await mkdir(folder);
    const names = Array.from({ length: 1500 }, (_, index) => `entry-${String(index).padStart(5, '0')}.bin`);
    for (const name of names) await writeFile(path.join(folder, name), '');
    const listed = (await storeOn(server).list('many')).map((entry) => entry.name).sort();
    assert.deepEqual(listed, names);
    await rm(folder, { recursive: true }); // made by root here, so not the share user's to delete
  });

  it('rejects names that smbclient cannot carry', async () => {
    for (const name of ['a;b', 'say "hi"', 'star*', 'trailing ']) {
      await rejectsWith(
        storeOn(server).writeFile(name, Readable.from([])),
        'InvalidParameter',
        /cannot be used/,
      );
    }
  });

  it('passes the password by environment only: no command line holds it during an upload; close() ends the session', async () => {
    const store = storeOn(server);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const source = Readable.from(
      (async function* () {
        yield Buffer.alloc(256 * 1024, 1);
        await held; // keep smbclient running while every process is inspected
      })(),
    );
    // Stores of the tests before this one that were never closed keep their sessions.
    const earlier = (await scanProcesses(server.password)).smbclientsWithPassword;
    const upload = store.writeFile('secret-scan.bin', source);
    try {
      const found = await scanUntilSmbclientSeen(server.password, earlier);
      assert.deepEqual(found.commandLines, [], 'a command line holds the password');
      assert.ok(
        found.smbclientsWithPassword > earlier,
        'no smbclient with PASSWD in its environment was seen',
      );
    } finally {
      release();
    }
    assert.equal(await upload, 256 * 1024);
    await store.remove('secret-scan.bin');
    await store.close();
    const left = await scanProcesses(server.password);
    assert.equal(left.smbclientsWithPassword, earlier, 'close() left its session running');
  });
});

describe('SMB server variants', () => {
  it(
    'works with mandatory signing and SMB 3.1.1 as the server minimum',
    withServer(
      { global: { 'server signing': 'mandatory', 'server min protocol': 'SMB3_11' } },
      async (server) => {
        const store = storeOn(server);
        await store.writeFile('f', Readable.from([Buffer.from('signed')]));
        assert.equal((await readAll(store, 'f')).toString(), 'signed');
        assert.equal((await store.sessionInfo()).signed, true);
      },
    ),
  );

  it(
    'works with a server that requires encryption',
    withServer({ global: { 'server smb encrypt': 'required' } }, async (server) => {
      const store = storeOn(server);
      await store.writeFile('f', Readable.from([Buffer.from('sealed')]));
      assert.equal((await readAll(store, 'f')).toString(), 'sealed');
      assert.equal((await store.sessionInfo()).encrypted, true);
    }),
  );

  it(
    'fails clearly when -RequireEncryption meets a server with encryption off, and signs without it',
    withServer({ global: { 'server smb encrypt': 'off' } }, async (server) => {
      await rejectsWith(
        advisedStore(storeOn(server, { requireEncryption: true })).checkRoot(),
        'StoreFault',
        /did not accept SMB encryption.*-RequireEncryption/,
      );
      assert.deepEqual(await storeOn(server).sessionInfo(), {
        protocol: 'SMB3_11',
        encrypted: false,
        signed: true,
      });
    }),
  );

  it(
    'refuses a server that offers nothing newer than SMB 2.1',
    withServer({ global: { 'server max protocol': 'SMB2_10' } }, async (server) => {
      await rejectsWith(storeOn(server).checkRoot(), 'StoreFault', /SMB 3\.0 or later/);
    }),
  );
});

describe('SMB server outages', () => {
  it(
    'reports a stopped server as ShareUnreachable',
    withServer({}, async (server) => {
      await server.stop();
      const store = storeOn(server);
      await rejectsWith(store.checkRoot(), 'ShareUnreachable', /CONNECTION_REFUSED/);
      await rejectsWith(store.list(''), 'ShareUnreachable', /CONNECTION_REFUSED/);
      await rejectsWith(
        store.writeFile('f', Readable.from([Buffer.from('x')])),
        'ShareUnreachable',
        /REFUSED/,
      );
    }),
  );

  it(
    'gives up on a server that accepts connections but never answers',
    { timeout: 60_000 },
    withServer({}, async (server) => {
      server.freeze();
      try {
        await rejectsWith(
          storeOn(server, {}, { timeoutSeconds: 2 }).list(''),
          'ShareUnreachable',
          /did not answer/,
        );
      } finally {
        server.thaw();
      }
    }),
  );

  it(
    'reports a server killed mid-upload as ShareUnreachable, with no file under the final name',
    withServer({}, async (server) => {
      const store = storeOn(server);
      let sent = 0;
      const source = Readable.from(
        (async function* () {
          for (;;) {
            if (sent === 8 * MiB) await server.stop('SIGKILL');
            sent += MiB;
            yield Buffer.alloc(MiB, 3);
          }
        })(),
      );
      await rejectsWith(
        store.writeFile('cut.bin', source),
        'ShareUnreachable',
        /dropped the connection|NT_STATUS_/,
      );
      await server.launch();
      assert.equal(await store.stat('cut.bin'), null);
    }),
  );

  it(
    're-establishes a session that broke between calls: a retried read, and a write no byte of which was taken',
    withServer({}, async (server) => {
      const store = new RetryingStore(storeOn(server), { firstDelayMs: 10 });
      try {
        await store.checkRoot(); // the store's session is open and idle now
        await server.stop('SIGKILL');
        await server.launch();
        assert.deepEqual(await store.list(''), []);
        await server.stop('SIGKILL');
        await server.launch();
        assert.equal(await store.writeFile('after.bin', Readable.from([Buffer.from('whole')])), 5);
        assert.equal((await readAll(store, 'after.bin')).toString(), 'whole');
      } finally {
        await store.close();
      }
    }),
  );

  it(
    'rejects a failing source without touching the share after the first bytes',
    withServer({}, async (server) => {
      const store = storeOn(server);
      await assert.rejects(store.writeFile('f', failing(2 * MiB)), /source broke/);
      assert.deepEqual(await store.list(''), []);
    }),
  );
});

/**
 * Scans until the upload's smbclient has been exec'd (a fresh child briefly shows node's command
 * line): until more than `earlier` smbclients hold the password.
 */
async function scanUntilSmbclientSeen(
  secret: string,
  earlier: number,
): Promise<Awaited<ReturnType<typeof scanProcesses>>> {
  for (let attempt = 0; ; attempt += 1) {
    const found = await scanProcesses(secret);
    if (found.smbclientsWithPassword > earlier || attempt === 50) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every process's command line that holds `secret`, and how many smbclients got it as PASSWD. */
async function scanProcesses(
  secret: string,
): Promise<{ commandLines: string[]; smbclientsWithPassword: number }> {
  const commandLines: string[] = [];
  let smbclientsWithPassword = 0;
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(secret)) commandLines.push(cmdline.split('\0').join(' '));
    if (!cmdline.startsWith('smbclient\0')) continue;
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    if (environ.split('\0').includes(`PASSWD=${secret}`)) smbclientsWithPassword += 1;
  }
  return { commandLines, smbclientsWithPassword };
}
