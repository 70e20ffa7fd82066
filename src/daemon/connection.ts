/**
 * One client connection: newline-framed JSON-RPC 2.0, an authentication gate, validated dispatch.
 * A malformed message gets an error reply; a connection that fails authentication, does not
 * authenticate in time or sends an oversized line is answered and closed at once (nothing more it
 * sent is handled). Reading pauses while the client leaves replies unread (CONNECTION_LIMITS). Nothing a
 * client sends can take the daemon down.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { AzsError, ErrorTable, type ErrorReason } from '../protocol/errors.js';
import {
  CONNECTION_LIMITS,
  JSONRPC_VERSION,
  MAX_MESSAGE_BYTES,
  Notifications,
  type ProgressNotification,
  type RequestId,
  type RpcResponse,
} from '../protocol/jsonrpc.js';
import type { Logger } from '../util/log.js';
import { checkParams, type DaemonMethods, type RequestContext } from './dispatch.js';

export interface ConnectionOptions {
  token: string;
  /** The methods this daemon serves. */
  methods: DaemonMethods;
  log: Logger;
  deploymentId: string;
}

/** How long a refused client has to take its last reply before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

/** Method names are echoed in MethodNotFound messages; no longer than this. */
const ECHOED_NAME_LENGTH = 100;

export class Connection {
  private buffer = Buffer.alloc(0);
  private authenticated = false;
  private stopped = false;
  private inFlight = 0;
  private readonly aborter = new AbortController();
  private readonly authenticationTimer: NodeJS.Timeout;

  constructor(
    private readonly socket: Socket,
    private readonly options: ConnectionOptions,
  ) {
    socket.on('data', (chunk) => this.receive(chunk));
    socket.on('drain', () => this.readLines());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(this.authenticationTimer);
      this.aborter.abort();
    });
    this.authenticationTimer = setTimeout(() => {
      const seconds = CONNECTION_LIMITS.authenticationTimeoutMs / 1000;
      this.refuse(
        'AuthenticationTimeout',
        `The connection did not authenticate within ${seconds} s and is closed. Send session.authenticate first.`,
      );
    }, CONNECTION_LIMITS.authenticationTimeoutMs);
  }

  /** Answers nothing more than this error and closes (a connection the daemon cannot take). */
  refuse(reason: ErrorReason, message: string): void {
    this.closeWith(errorResponse(null, reason, message));
  }

  private receive(chunk: Buffer): void {
    if (this.stopped) return;
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this.readLines();
  }

  /** Handles the complete lines buffered so far, as long as the client keeps up with the replies. */
  private readLines(): void {
    let newline: number;
    while (!this.stopped && !this.congested() && (newline = this.buffer.indexOf(0x0a)) >= 0) {
      const line = this.buffer.subarray(0, newline);
      this.buffer = this.buffer.subarray(newline + 1);
      if (line.length > MAX_MESSAGE_BYTES) return this.refuseOversized();
      if (line.length > 0) void this.handleLine(line.toString('utf8'));
    }
    if (this.stopped) return;
    if (this.buffer.indexOf(0x0a) < 0 && this.buffer.length > MAX_MESSAGE_BYTES)
      return this.refuseOversized();
    if (this.congested()) this.socket.pause();
    else this.socket.resume();
  }

  /** True while the client leaves too many replies unread or has too many requests running. */
  private congested(): boolean {
    return (
      this.socket.writableLength > CONNECTION_LIMITS.maxUnsentBytes ||
      this.inFlight >= CONNECTION_LIMITS.maxRequestsInFlight
    );
  }

  /** Handles nothing more from this client: what it sent after a refusal is dropped unhandled. */
  private stopReading(): void {
    this.stopped = true;
    clearTimeout(this.authenticationTimer);
    this.buffer = Buffer.alloc(0);
    this.socket.pause();
  }

  /**
   * Sends a last reply (none for a notification) and closes. For at most CLOSE_GRACE_MS what the
   * client still sends is discarded as it arrives rather than left unread: a socket closed with unread
   * data resets the connection, and the client would lose the reply that says why.
   */
  private closeWith(response: RpcResponse | undefined): void {
    this.stopReading();
    if (this.socket.writableEnded || this.socket.destroyed) return;
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    this.socket.resume();
    if (response) this.socket.end(`${JSON.stringify(response)}\n`);
    else this.socket.end();
  }

  private refuseOversized(): void {
    this.closeWith(
      errorResponse(
        null,
        'MessageTooLarge',
        `A message may be at most ${MAX_MESSAGE_BYTES} bytes; the connection is closed.`,
      ),
    );
  }

  private async handleLine(line: string): Promise<void> {
    this.inFlight += 1;
    try {
      await this.handleMessage(line);
    } finally {
      this.inFlight -= 1;
      // Reading may have paused at the in-flight bound; it resumes once below it.
      if (this.inFlight === CONNECTION_LIMITS.maxRequestsInFlight - 1) setImmediate(() => this.readLines());
    }
  }

  private async handleMessage(line: string): Promise<void> {
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
    if (this.stopped) this.closeWith(id === undefined ? undefined : response);
    else if (id !== undefined) this.send(response);
  }

  private async dispatch(id: RequestId | undefined, method: string, params: unknown): Promise<RpcResponse> {
    const responseId = id ?? null;
    // Before authentication every method but session.authenticate is refused, known or not.
    const served = this.options.methods.get(method);
    if (!this.authenticated && !served?.definition.beforeAuth) {
      this.stopReading();
      return errorResponse(
        responseId,
        'Unauthorized',
        'Authenticate first: the first message must be session.authenticate with the deployment token.',
      );
    }
    if (!served)
      return errorResponse(
        responseId,
        'MethodNotFound',
        `There is no method '${method.slice(0, ECHOED_NAME_LENGTH)}'.`,
      );
    try {
      const valid = checkParams(method, served.definition, params);
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
      return { jsonrpc: JSONRPC_VERSION, id: responseId, result: await served.handle(valid, context) };
    } catch (error) {
      return this.failure(responseId, method, error);
    }
  }

  private authenticate(params: { token: string }): { deploymentId: string } {
    const given = Buffer.from(params.token);
    const expected = Buffer.from(this.options.token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      this.stopReading();
      throw new AzsError(
        'Unauthorized',
        "The token is not this deployment's; the connection is closed. Clients read it from the state folder's token file.",
      );
    }
    this.authenticated = true;
    clearTimeout(this.authenticationTimer);
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
