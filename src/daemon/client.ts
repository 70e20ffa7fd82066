/**
 * A typed JSON-RPC client for the daemon's socket: used by the CLI, the benchmark and the tests.
 * (The PowerShell module has its own, script-only client in module/Private.)
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { AzsError, type ErrorDetail } from '../protocol/errors.js';
import {
  JSONRPC_VERSION,
  Notifications,
  type ProgressNotification,
  type RpcErrorObject,
} from '../protocol/jsonrpc.js';
import type { Static } from '@sinclair/typebox';
import type { Methods } from '../protocol/methods.js';
import { endpointIsFile } from '../util/platform.js';
import { assertPrivateSocket } from '../util/privateSocket.js';
import type { TestHookMethods } from './testHooks.js';

/** What a client may call: the protocol's methods, and a test daemon's hooks. */
type Callable = typeof Methods & typeof TestHookMethods;
export type CallableName = keyof Callable;
export type CallParams<M extends CallableName> = Static<Callable[M]['params']>;
export type CallResult<M extends CallableName> = Static<Callable[M]['result']>;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data: ErrorDetail | undefined,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export class DaemonClient {
  private nextId = 1;
  private buffer = '';
  private readonly pending = new Map<number, Pending>();
  private readonly progressListeners = new Set<(update: ProgressNotification) => void>();

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('close', () =>
      this.failAll(new AzsError('InternalError', 'The daemon closed the connection.')),
    );
    socket.on('error', (error) => this.failAll(error));
  }

  /**
   * Connects and authenticates with the token file of the state folder, once the socket has shown
   * itself to be this user's alone (the token must not reach a listener another user planted).
   */
  static async connect(endpoint: string, tokenFile: string): Promise<DaemonClient> {
    if (endpointIsFile(endpoint)) await assertPrivateSocket(endpoint);
    const token = (await readFile(tokenFile, 'utf8')).trim();
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const candidate = net.createConnection(endpoint, () => resolve(candidate));
      candidate.once('error', reject);
    });
    const client = new DaemonClient(socket);
    await client.call('session.authenticate', { token });
    return client;
  }

  onProgress(listener: (update: ProgressNotification) => void): void {
    this.progressListeners.add(listener);
  }

  call<M extends CallableName>(method: M, params: CallParams<M>): Promise<CallResult<M>> {
    const id = this.nextId++;
    const promise = new Promise<CallResult<M>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    });
    this.socket.write(`${JSON.stringify({ jsonrpc: JSONRPC_VERSION, id, method, params })}\n`);
    return promise;
  }

  close(): void {
    this.socket.end();
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      if (line.trim()) this.handle(JSON.parse(line));
    }
  }

  private handle(message: {
    id?: number;
    method?: string;
    params?: unknown;
    result?: unknown;
    error?: RpcErrorObject;
  }): void {
    if (message.method === Notifications.progress) {
      for (const listener of this.progressListeners) listener(message.params as ProgressNotification);
      return;
    }
    const pending = message.id === undefined ? undefined : this.pending.get(message.id);
    if (!pending) return;
    this.pending.delete(message.id!);
    if (message.error)
      pending.reject(new RpcError(message.error.code, message.error.message, message.error.data));
    else pending.resolve(message.result);
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
