/**
 * The checks on the daemon's socket and its folder (src/util/privateSocket.ts), and the environment
 * allowlist (src/util/environment.ts), on real files: links, modes, owners, a real listening socket.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAzsError } from '../../src/protocol/errors.js';
import { allowlistedEnvironment } from '../../src/util/environment.js';
import { assertPrivateSocket, preparePrivateFolder } from '../../src/util/privateSocket.js';

const isRoot = process.getuid?.() === 0;

async function refused(check: Promise<void>, pattern: RegExp): Promise<void> {
  await assert.rejects(check, (error) => {
    assert.ok(isAzsError(error, 'EndpointNotPrivate'), String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

describe('the socket folder and the socket', () => {
  let root: string;
  const servers: net.Server[] = [];

  before(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'azs-private-'));
  });

  after(() => {
    for (const server of servers) server.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function listen(socket: string, mode: number): Promise<void> {
    const server = net.createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    chmodSync(socket, mode);
  }

  it('creates a missing folder with mode 0700 and accepts it', async () => {
    const folder = path.join(root, 'fresh');
    await preparePrivateFolder(folder);
    const socket = path.join(folder, 'daemon.sock');
    await listen(socket, 0o600);
    await assertPrivateSocket(socket);
  });

  it('creates only the last component: a missing parent is an error naming AZSBACKUP_SOCKET', async () => {
    await assert.rejects(preparePrivateFolder(path.join(root, 'no', 'such')), (error) => {
      assert.ok(isAzsError(error, 'PathNotFound'));
      assert.equal(error.parameter, 'AZSBACKUP_SOCKET');
      return true;
    });
  });

  it('refuses a folder that others may enter, without changing its mode', async () => {
    const folder = path.join(root, 'open');
    mkdirSync(folder, { mode: 0o755 });
    chmodSync(folder, 0o755);
    await refused(preparePrivateFolder(folder), /has mode 0755.*chmod 700/);
    await refused(assertPrivateSocket(path.join(folder, 'daemon.sock')), /has mode 0755/);
  });

  it('refuses a link to a private folder', async () => {
    const target = path.join(root, 'target');
    mkdirSync(target, { mode: 0o700 });
    const link = path.join(root, 'link');
    symlinkSync(target, link);
    await refused(preparePrivateFolder(link), /not a folder but a link/);
  });

  it('refuses a folder another user owns', { skip: !isRoot && 'needs root to chown' }, async () => {
    const folder = path.join(root, 'foreign');
    mkdirSync(folder, { mode: 0o700 });
    chownSync(folder, 65534, 65534);
    await refused(preparePrivateFolder(folder), /belongs to uid 65534, not to this user/);
  });

  it('refuses a socket others may connect to, and a file that is not a socket', async () => {
    const folder = path.join(root, 'sockets');
    await preparePrivateFolder(folder);
    const open = path.join(folder, 'open.sock');
    await listen(open, 0o666);
    await refused(assertPrivateSocket(open), /has mode 0666/);
    const plain = path.join(folder, 'plain.sock');
    writeFileSync(plain, '');
    await refused(assertPrivateSocket(plain), /is not a socket/);
  });

  it('refuses a socket another user owns', { skip: !isRoot && 'needs root to chown' }, async () => {
    const folder = path.join(root, 'owned');
    await preparePrivateFolder(folder);
    const socket = path.join(folder, 'daemon.sock');
    await listen(socket, 0o600);
    chownSync(socket, 65534, 65534);
    await refused(assertPrivateSocket(socket), /belongs to uid 65534/);
  });
});

describe('the environment allowlist', () => {
  it('keeps what the engine, pwsh and smbclient need and drops everything else', () => {
    const kept = allowlistedEnvironment({
      PATH: '/usr/bin',
      HOME: '/root',
      LANG: 'C.UTF-8',
      LC_ALL: 'C',
      XDG_RUNTIME_DIR: '/run/user/0',
      AZSBACKUP_HOME: '/state',
      AZSBACKUP_FORMAT: '4',
      NODE_OPTIONS: '--max-semi-space-size=4',
      AZSBACKUP_PFX_PASSWORD: 'secret',
      AWS_SECRET_ACCESS_KEY: 'secret',
      SSH_AUTH_SOCK: '/tmp/agent',
      PASSWD: 'secret',
    });
    assert.deepEqual(Object.keys(kept).sort(), [
      'AZSBACKUP_FORMAT',
      'AZSBACKUP_HOME',
      'HOME',
      'LANG',
      'LC_ALL',
      'NODE_OPTIONS',
      'PATH',
      'XDG_RUNTIME_DIR',
    ]);
  });
});
