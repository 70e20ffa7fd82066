/**
 * One client connection: newline-framed JSON-RPC 2.0, an authentication gate, validated dispatch.
 * A malformed message gets an error reply; a connection that fails authentication or sends an
 * oversized line is answered and closed. Nothing a client sends can take the daemon down.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { AzsError, ErrorTable, type ErrorReason } from '../protocol/errors.js';
import {
  JSONRPC_VERSION,
  MAX_MESSAGE_BYTES,
  Notifications,
  type ProgressNotification,
  type RequestId,
  type RpcResponse,
} from '../protocol/jsonrpc.js';
import { Methods, isMethodName } from '../protocol/methods.js';
import type { Logger } from '../util/log.js';
import { validateParams, type Handlers, type RequestContext } from './dispatch.js';

export interface ConnectionOptions {
  token: string;
  handlers: Handlers;
  log: Logger;
  deploymentId: string;
}

export class Connection {
  private buffer = Buffer.alloc(0);
  private authenticated = false;
  private readonly aborter = new AbortController();

  constructor(
    private readonly socket: Socket,
    private readonly options: ConnectionOptions,
  ) {
    socket.on('data', (chunk) => this.receive(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.aborter.abort());
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    let newline: number;
    while ((newline = this.buffer.indexOf(0x0a)) >= 0) {
      const line = this.buffer.subarray(0, newline);
      this.buffer = this.buffer.subarray(newline + 1);
      if (line.length > MAX_MESSAGE_BYTES) return this.refuseOversized();
      if (line.length > 0) void this.handleLine(line.toString('utf8'));
    }
    if (this.buffer.length > MAX_MESSAGE_BYTES) this.refuseOversized();
  }

  private refuseOversized(): void {
    this.buffer = Buffer.alloc(0);
    this.send(
      errorResponse(
        null,
        'MessageTooLarge',
        `A message may be at most ${MAX_MESSAGE_BYTES} bytes; the connection is closed.`,
      ),
    );
    this.socket.end();
  }

  private async handleLine(line: string): Promise<void> {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      return this.send(errorResponse(null, 'ParseError', 'The message is not valid JSON.'));
    }
    if (!isRequest(message)) {
      return this.send(
        errorResponse(idOf(message), 'InvalidRequest', 'The message is not a JSON-RPC 2.0 request.'),
      );
    }
    const { id, method, params } = message;
    const response = await this.dispatch(id, method, params ?? {});
    if (id !== undefined) this.send(response);
  }

  private async dispatch(id: RequestId | undefined, method: string, params: unknown): Promise<RpcResponse> {
    const responseId = id ?? null;
    if (!isMethodName(method))
      return errorResponse(responseId, 'MethodNotFound', `There is no method '${method}'.`);
    const definition = Methods[method];
    if (!this.authenticated && !definition.beforeAuth) {
      setImmediate(() => this.socket.end());
      return errorResponse(
        responseId,
        'Unauthorized',
        'Authenticate first: the first message must be session.authenticate with the deployment token.',
      );
    }
    try {
      const valid = validateParams(method, params);
      if (method === 'session.authenticate')
        return {
          jsonrpc: JSONRPC_VERSION,
          id: responseId,
          result: this.authenticate(valid as { token: string }),
        };
      const context: RequestContext = {
        signal: this.aborter.signal,
        progress: (update) => this.notifyProgress(responseId, update),
      };
      const handler = this.options.handlers[method] as (p: unknown, c: RequestContext) => Promise<unknown>;
      return { jsonrpc: JSONRPC_VERSION, id: responseId, result: await handler(valid, context) };
    } catch (error) {
      return this.failure(responseId, method, error);
    }
  }

  private authenticate(params: { token: string }): { deploymentId: string } {
    const given = Buffer.from(params.token);
    const expected = Buffer.from(this.options.token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      setImmediate(() => this.socket.end());
      throw new AzsError(
        'Unauthorized',
        "The token is not this deployment's; the connection is closed. Clients read it from the state folder's token file.",
      );
    }
    this.authenticated = true;
    return { deploymentId: this.options.deploymentId };
  }

  private failure(id: RequestId | null, method: string, error: unknown): RpcResponse {
    if (error instanceof AzsError) return errorResponse(id, error.reason, error.message, error);
    this.options.log.error('request failed unexpectedly', {
      method,
      error: (error as Error)?.stack ?? String(error),
    });
    return errorResponse(
      id,
      'InternalError',
      `The daemon failed while running ${method}: ${(error as Error)?.message ?? error}. See the daemon log for details.`,
    );
  }

  private notifyProgress(requestId: RequestId | null, update: Omit<ProgressNotification, 'requestId'>): void {
    if (requestId === null) return;
    this.write({
      jsonrpc: JSONRPC_VERSION,
      method: Notifications.progress,
      params: { requestId, ...update },
    });
  }

  private send(response: RpcResponse): void {
    this.write(response);
  }

  private write(message: unknown): void {
    if (!this.socket.writable) return;
    this.socket.write(`${JSON.stringify(message)}\n`);
  }
}

function errorResponse(
  id: RequestId | null,
  reason: ErrorReason,
  message: string,
  error?: AzsError,
): RpcResponse {
  return {
    jsonrpc: JSONRPC_VERSION,
    id,
    error: { code: ErrorTable[reason].code, message, data: error ? error.toDetail() : { reason } },
  };
}

function isRequest(
  message: unknown,
): message is { jsonrpc: '2.0'; id?: RequestId; method: string; params?: unknown } {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return false;
  const candidate = message as Record<string, unknown>;
  const idOk =
    candidate.id === undefined ||
    typeof candidate.id === 'string' ||
    (typeof candidate.id === 'number' && Number.isFinite(candidate.id));
  const paramsOk =
    candidate.params === undefined || (typeof candidate.params === 'object' && candidate.params !== null);
  return candidate.jsonrpc === JSONRPC_VERSION && typeof candidate.method === 'string' && idOk && paramsOk;
}

function idOf(message: unknown): RequestId | null {
  const id = (message as { id?: unknown } | null)?.id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}
