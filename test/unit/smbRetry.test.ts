/**
 * The retry wrapper against a real Samba server: a transient outage is ridden out, a permanent fault
 * fails at once, and a streamed upload is never retried.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isAzsError } from '../../src/protocol/errors.js';
import { openStore } from '../../src/storage/openStore.js';
import { RetryingStore } from '../../src/storage/smbRetry.js';
import { SmbStore } from '../../src/storage/smbStore.js';
import { SambaServer } from '../helpers/samba.js';

describe('retrying store over SMB', () => {
  let server: SambaServer;
  before(async () => {
    server = await SambaServer.start();
  });
  after(() => server.dispose());

  const settings = (overrides: { password?: string } = {}) => ({
    path: server.uncPath('backup'),
    userName: server.user,
    password: server.password,
    requireEncryption: false,
    ...overrides,
  });

  it('rides out a server restart on an idempotent operation', async () => {
    await server.stop();
    const retries: string[] = [];
    let restarting: Promise<void> | null = null;
    const store = new RetryingStore(new SmbStore(settings()), {
      attempts: 6,
      firstDelayMs: 200,
      onRetry: (operation, attempt, error) => {
        retries.push(`${operation}#${attempt}:${error.reason}`);
        restarting ??= server.launch();
      },
    });
    assert.deepEqual(await store.list(''), []);
    await restarting;
    assert.ok(retries.length >= 1, 'the first attempt failed and was retried');
    assert.equal(retries[0], 'list#1:ShareUnreachable');
  });

  it('does not retry a permanent fault', async () => {
    const retries: string[] = [];
    const store = new RetryingStore(new SmbStore(settings({ password: 'wrong' })), {
      firstDelayMs: 10,
      onRetry: (operation) => retries.push(operation),
    });
    await assert.rejects(store.checkRoot(), (error) => isAzsError(error, 'AuthenticationFailed'));
    assert.deepEqual(retries, []);
  });

  it('does not retry an upload, whose source the first attempt consumed', async () => {
    await server.stop();
    try {
      const retries: string[] = [];
      const store = new RetryingStore(new SmbStore(settings()), {
        firstDelayMs: 10,
        onRetry: (operation) => retries.push(operation),
      });
      await assert.rejects(store.writeFile('f', Readable.from([Buffer.from('x')])), (error) =>
        isAzsError(error, 'ShareUnreachable'),
      );
      assert.deepEqual(retries, []);
    } finally {
      await server.launch();
    }
  });

  it('is what openStore gives for \\\\server\\share and //server/share paths', async () => {
    for (const path of [server.uncPath('backup'), `//127.0.0.1:${server.port}/backup`]) {
      const store = openStore({ ...settings(), path });
      assert.ok(store instanceof RetryingStore, path);
      await store.checkRoot();
      assert.equal(store.location, path);
    }
  });
});
