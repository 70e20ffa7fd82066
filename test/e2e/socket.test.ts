/**
 * The daemon's socket against hostile or careless clients, over a raw connection: every bad message
 * gets an error reply or a closed connection, and the daemon still answers afterwards.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ErrorTable } from '../../src/protocol/errors.js';
import { CONNECTION_LIMITS, MAX_MESSAGE_BYTES } from '../../src/protocol/jsonrpc.js';
import { removeDir, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { cliMain } from '../helpers/pwsh.js';

interface Exchange {
  replies: Array<{ id?: unknown; result?: unknown; error?: { code: number; data?: { reason?: string } } }>;
  closed: boolean;
}

/** A guard against a hung test, not a timing assertion: the daemon answers in milliseconds. */
const HANG_GUARD_MS = 20_000;

/**
 * Sends raw text and collects the reply lines until `replies` have come and, when `untilClosed`,
 * until the daemon has closed the connection.
 */
function exchange(
  socketPath: string,
  text: string | Buffer,
  replies: number,
  untilClosed = false,
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const result: Exchange = { replies: [], closed: false };
    let buffer = '';
    const guard = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer: ${JSON.stringify(result)}`));
    }, HANG_GUARD_MS);
    const finish = () => {
      clearTimeout(guard);
      socket.destroy();
      resolve(result);
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        result.replies.push(JSON.parse(buffer.slice(0, newline)));
        buffer = buffer.slice(newline + 1);
      }
      if (result.replies.length >= replies && !untilClosed) finish();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      result.closed = true;
      finish();
    });
    socket.write(text);
  });
}

/** Connects; resolves once connected. */
function connect(socketPath: string, allowHalfOpen = false): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path: socketPath, allowHalfOpen }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves true when the daemon ends the connection (close, or a failed write) within `ms`. */
function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    socket.once('close', done);
    socket.once('error', done);
  });
}

/** The resident memory of a process, in MB. */
function residentMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

const line = (message: unknown) => `${JSON.stringify(message)}\n`;
const request = (id: number, method: string, params: unknown = {}) => ({
  jsonrpc: '2.0',
  id,
  method,
  params,
});

describe('the daemon socket against bad clients', () => {
  let daemon: TestDaemon;
  let socketPath: string;
  let authenticate: string;

  before(() => {
    daemon = startDaemon();
    const status = JSON.parse(
      execFileSync(process.execPath, [cliMain, 'status', '--json', '--state-dir', daemon.stateDir], {
        encoding: 'utf8',
      }),
    );
    socketPath = status.socket;
    const token = readFileSync(path.join(daemon.stateDir, 'token'), 'utf8').trim();
    authenticate = line(request(1, 'session.authenticate', { token }));
  });

  after(() => {
    daemon.stop();
    removeDir(daemon.stateDir);
  });

  async function assertStillAnswers(): Promise<void> {
    const status = await daemon.call('daemon.status', {});
    assert.equal(status.pid, daemon.pid);
  }

  test('malformed JSON gets a ParseError reply, and the connection stays usable', async () => {
    const { replies } = await exchange(
      socketPath,
      `{"jsonrpc": "2.0", "id": 1,\n${authenticate}${line(request(2, 'daemon.status'))}`,
      3,
    );
    assert.equal(replies[0]!.error?.code, ErrorTable.ParseError.code);
    assert.equal(replies[1]!.id, 1);
    assert.equal(replies[2]!.id, 2);
    assert.ok(replies[2]!.result);
    await assertStillAnswers();
  });

  test('a JSON value that is not a request object gets an InvalidRequest reply', async () => {
    const { replies } = await exchange(
      socketPath,
      `42\n[1,2]\n"text"\n${line({ jsonrpc: '2.0', id: 5 })}`,
      4,
    );
    for (const reply of replies) assert.equal(reply.error?.code, ErrorTable.InvalidRequest.code);
    assert.equal(replies[3]!.id, 5);
    await assertStillAnswers();
  });

  test('an unknown method gets a MethodNotFound reply', async () => {
    const { replies } = await exchange(socketPath, `${authenticate}${line(request(2, 'no.such.method'))}`, 2);
    assert.equal(replies[1]!.id, 2);
    assert.equal(replies[1]!.error?.code, ErrorTable.MethodNotFound.code);
    assert.equal(replies[1]!.error?.data?.reason, 'MethodNotFound');
    await assertStillAnswers();
  });

  test('a daemon started without --test-hooks has no test hook: test.advanceClock is MethodNotFound', async () => {
    const { replies } = await exchange(
      socketPath,
      `${authenticate}${line(request(2, 'test.advanceClock', { Hours: 1 }))}`,
      2,
    );
    assert.equal(replies[1]!.error?.data?.reason, 'MethodNotFound');
    await assertStillAnswers();
  });

  test('a line longer than 1 MiB is answered with MessageTooLarge and the connection is closed', async () => {
    const huge = Buffer.alloc(MAX_MESSAGE_BYTES + 1024, 'a');
    const result = await exchange(
      socketPath,
      Buffer.concat([Buffer.from(authenticate), huge, Buffer.from('\n')]),
      2,
      true,
    );
    assert.equal(result.closed, true);
    assert.equal(result.replies.at(-1)?.error?.code, ErrorTable.MessageTooLarge.code);
    await assertStillAnswers();
  });

  test('a wrong token is answered with Unauthorized and the connection is closed', async () => {
    const wrong = line(request(1, 'session.authenticate', { token: '0'.repeat(64) }));
    const result = await exchange(socketPath, `${wrong}${line(request(2, 'config.get'))}`, 1, true);
    assert.equal(result.closed, true);
    assert.equal(result.replies[0]!.error?.code, ErrorTable.Unauthorized.code);
    assert.ok(
      result.replies.every((reply) => reply.result === undefined),
      'nothing is answered after a wrong token',
    );
    await assertStillAnswers();
  });

  test('a request without authentication is answered with Unauthorized and the connection is closed', async () => {
    const result = await exchange(socketPath, line(request(1, 'config.get')), 1, true);
    assert.equal(result.closed, true);
    assert.equal(result.replies[0]!.error?.code, ErrorTable.Unauthorized.code);
    assert.equal(result.replies[0]!.error?.data?.reason, 'Unauthorized');
    await assertStillAnswers();
  });

  test('after a wrong token the daemon reads nothing more and closes, even if the client keeps its side open', async () => {
    const client = await connect(socketPath, true);
    client.on('error', () => undefined);
    client.resume();
    client.write(line(request(1, 'session.authenticate', { token: '0'.repeat(64) })));
    const junk = line(request(2, 'daemon.status')).repeat(1000);
    const writer = setInterval(() => client.writable && client.write(junk), 20);
    try {
      assert.equal(await closedWithin(client, 5000), true, 'the daemon closed the connection');
    } finally {
      clearInterval(writer);
      client.destroy();
    }
    await assertStillAnswers();
  });

  test('a connection that does not authenticate in time is answered with AuthenticationTimeout and closed', async () => {
    const seconds = CONNECTION_LIMITS.authenticationTimeoutMs / 1000;
    const started = Date.now();
    const result = await exchange(socketPath, '', 1, true);
    assert.equal(result.closed, true);
    assert.equal(result.replies[0]?.error?.data?.reason, 'AuthenticationTimeout');
    assert.ok(
      Date.now() - started >= CONNECTION_LIMITS.authenticationTimeoutMs - 500,
      `not before ${seconds} s`,
    );
    await assertStillAnswers();
  });

  test('beyond the connection limit a new connection is answered with TooManyConnections and closed', async () => {
    const held = await Promise.all(
      Array.from({ length: CONNECTION_LIMITS.maxConnections }, () => connect(socketPath)),
    );
    try {
      const result = await exchange(socketPath, authenticate, 1, true);
      assert.equal(result.closed, true);
      assert.equal(result.replies[0]?.error?.data?.reason, 'TooManyConnections');
    } finally {
      for (const socket of held) socket.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    await assertStillAnswers();
  });

  test('a client that sends without reading its replies cannot make the daemon buffer them', async () => {
    const floodBytes = 24 * 1024 * 1024;
    const client = await connect(socketPath);
    client.on('error', () => undefined);
    client.pause();
    const before = residentMb(daemon.pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, residentMb(daemon.pid))), 100);
    try {
      const chunk = Buffer.from(line(request(2, 'daemon.status')).repeat(10_000));
      client.write(authenticate);
      // Writes while the daemon reads; once it stops reading, the writes stall and the flood ends.
      for (let sent = 0; sent < floodBytes; sent += chunk.length) {
        if (client.write(chunk)) continue;
        const drained = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 3000);
          client.once('drain', () => {
            clearTimeout(timer);
            resolve(true);
          });
        });
        if (!drained) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    } finally {
      clearInterval(sampler);
      client.destroy();
    }
    assert.ok(peak - before < 64, `the daemon grew by ${Math.round(peak - before)} MB (at most 64)`);
    await assertStillAnswers();
  });
});
