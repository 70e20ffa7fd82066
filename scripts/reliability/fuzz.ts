/**
 * The socket fuzzer: malformed, oversized, truncated and wrongly typed JSON-RPC messages over raw
 * connections, authenticated and not. Every message it sends to a real method carries an unknown
 * property or a wrongly typed one, so none can pass validation and change anything — except calls
 * to read-only methods, which may also get well-formed but odd parameters.
 */
import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';
import { Methods } from '../../src/protocol/methods.js';

export interface FuzzOutcome {
  sent: number;
  connections: number;
  replies: number;
  closedByDaemon: number;
  /** Replies that were not JSON-RPC 2.0 responses. */
  malformedReplies: string[];
  /** Results given on a connection that never authenticated. */
  unauthenticatedResults: string[];
}

const READ_ONLY = ['daemon.status', 'config.get', 'backup.list', 'role.list', 'alert.list', 'job.list'];
const METHOD_NAMES = Object.keys(Methods);
const ODD_VALUES: unknown[] = [
  null,
  true,
  -1,
  1e308,
  -0,
  2 ** 100,
  '',
  '..\\..\\..\\Windows\\System32',
  '../../../../etc/passwd',
  'a\u0000b',
  '*?[]{}',
  '\uffff\ud800',
  'x'.repeat(5000),
  [],
  [1, [2, [3]]],
  {},
  { __proto__: { polluted: true } },
];

const pick = <T>(items: readonly T[]): T => items[randomInt(items.length)]!;

function request(method: string, params: unknown, id: unknown = randomInt(1_000_000)): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method, params });
}

function nested(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** One fuzzed line (without its newline), of a randomly chosen kind. */
function fuzzedLine(): string | Buffer {
  switch (randomInt(11)) {
    case 0:
      return randomBytes(randomInt(1, 400)).toString('latin1').replace(/\n/g, ' ');
    case 1:
      return Buffer.concat([
        Buffer.from('{"jsonrpc":"2.0","id":1,"method":"'),
        Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
        Buffer.from('"}'),
      ]);
    case 2:
      return `{"jsonrpc":"2.0","id":1,"method":"backup.list","params":{"Name":${nested(randomInt(1000, 100_000))}}}`;
    case 3:
      return `{"jsonrpc":"2.0","id":1e400,"method":"backup.list","params":{"Top":${'9'.repeat(randomInt(20, 400))}}}`;
    case 4: {
      const method = pick(METHOD_NAMES);
      return request(method, {
        __fuzz: pick(ODD_VALUES),
        [randomBytes(4).toString('hex')]: pick(ODD_VALUES),
      });
    }
    case 5:
      return request(pick(METHOD_NAMES), pick([[], 'params', 42, null, [{}]]));
    case 6:
      return request(
        `${pick(['', 'backup.', 'daemon.', '__proto__', 'constructor', 'toString'])}${randomBytes(3).toString('hex')}`,
        {},
      );
    case 7:
      return pick([
        '42',
        '[]',
        '"text"',
        'null',
        '{"jsonrpc":"1.0","method":"daemon.status"}',
        '[{"jsonrpc":"2.0","id":1,"method":"daemon.status"}]',
        '{}',
        '{"jsonrpc":"2.0","id":{},"method":"daemon.status"}',
      ]);
    case 8: {
      const method = pick(READ_ONLY);
      const params =
        method === 'backup.list' || method === 'role.list'
          ? { Name: pick(['..\\..\\*', '../../*', '*', '\u0000', 'x'.repeat(256)]) }
          : {};
      return request(method, params, pick([1, 'id', -5, 2 ** 53]));
    }
    case 9:
      return request('backup.list', {
        Name: 'x',
        Top: pick(['1', -1, 1.5, 1e308, null]),
        Skip: pick([{}, [], '0']),
      });
    default:
      return request('session.authenticate', {
        token: pick(['', '0'.repeat(64), 'x'.repeat(256), randomBytes(32).toString('hex')]),
      });
  }
}

interface ConnectionPlan {
  token: string | null;
  lines: Array<string | Buffer>;
  /** Send a line over 1 MiB at the end, or stop in the middle of a line and close. */
  ending: 'status' | 'oversized' | 'half-line';
}

interface ConnectionResult {
  replies: string[];
  closedByDaemon: boolean;
}

const HANG_GUARD_MS = 30_000;

/** Sends a plan over one raw connection and collects the replies until the end marker or a close. */
function runConnection(socketPath: string, plan: ConnectionPlan): Promise<ConnectionResult> {
  return new Promise((resolve) => {
    const socket = net.createConnection(socketPath);
    const result: ConnectionResult = { replies: [], closedByDaemon: false };
    let buffer = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(guard);
      socket.destroy();
      resolve(result);
    };
    const guard = setTimeout(finish, HANG_GUARD_MS);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        result.replies.push(line);
        if (line.includes('"id":"end"')) finish();
      }
    });
    socket.on('error', () => undefined);
    socket.on('end', () => (result.closedByDaemon = true));
    socket.on('close', finish);
    socket.on('connect', () => {
      if (plan.token) socket.write(`${request('session.authenticate', { token: plan.token }, 'auth')}\n`);
      for (const line of plan.lines) socket.write(Buffer.concat([Buffer.from(line), Buffer.from('\n')]));
      if (plan.ending === 'oversized') socket.write(`${'x'.repeat(1024 * 1024 + 4096)}\n`);
      if (plan.ending === 'half-line') {
        socket.write('{"jsonrpc":"2.0","id":"end","method":"daemon.st');
        setTimeout(finish, 20);
      } else socket.write(`${request('daemon.status', {}, 'end')}\n`);
    });
  });
}

function isResponse(line: string): boolean {
  try {
    const message = JSON.parse(line) as Record<string, unknown>;
    return message.jsonrpc === '2.0' && ('result' in message || 'error' in message);
  } catch {
    return false;
  }
}

/** Sends `total` fuzzed messages over many connections, `parallel` at a time. */
export async function fuzzSocket(
  socketPath: string,
  token: string,
  total: number,
  parallel = 8,
): Promise<FuzzOutcome> {
  const outcome: FuzzOutcome = {
    sent: 0,
    connections: 0,
    replies: 0,
    closedByDaemon: 0,
    malformedReplies: [],
    unauthenticatedResults: [],
  };
  const nextPlan = (): ConnectionPlan | null => {
    if (outcome.sent >= total) return null;
    const lines = Array.from({ length: Math.min(randomInt(1, 60), total - outcome.sent) }, fuzzedLine);
    outcome.sent += lines.length + 1;
    outcome.connections += 1;
    return {
      token: randomInt(3) === 0 ? null : token,
      lines,
      ending: pick(['status', 'status', 'status', 'oversized', 'half-line'] as const),
    };
  };
  const worker = async () => {
    for (let plan = nextPlan(); plan; plan = nextPlan()) {
      const result = await runConnection(socketPath, plan);
      outcome.replies += result.replies.length;
      if (result.closedByDaemon) outcome.closedByDaemon += 1;
      for (const reply of result.replies) {
        if (!isResponse(reply)) outcome.malformedReplies.push(reply.slice(0, 200));
        else if (!plan.token && reply.includes('"result"'))
          outcome.unauthenticatedResults.push(reply.slice(0, 200));
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return outcome;
}
