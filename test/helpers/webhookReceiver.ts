/**
 * A webhook receiver on 127.0.0.1 as a real one checks messages: every signature is verified with the
 * `standardwebhooks` package (a whsec_ secret as such, any other text as its UTF-8 bytes), and it
 * answers with the statuses a test scripts.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { EngineEvent } from '../../src/protocol/events.js';

export interface ReceivedMessage {
  id: string;
  /** When it arrived (ms since the epoch). */
  receivedAt: number;
  headers: IncomingHttpHeaders;
  body: string;
  event: EngineEvent;
  /** Why the signature did not verify; null when it did (or when no secret is expected and none came). */
  signatureError: string | null;
  /** The status this receiver answered. */
  answered: number;
}

export class WebhookReceiver {
  readonly messages: ReceivedMessage[] = [];
  /** Statuses to answer, first to last; `status` once they are used up. */
  readonly answers: number[] = [];
  status = 200;

  private constructor(
    private readonly server: Server,
    private readonly verifier: Webhook | null,
  ) {}

  /** Starts listening on `port` (0: any free port). */
  static async start(options: { secret?: string; port?: number } = {}): Promise<WebhookReceiver> {
    const verifier = options.secret ? verifierFor(options.secret) : null;
    const server = createServer();
    const receiver = new WebhookReceiver(server, verifier);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const answered = receiver.answers.shift() ?? receiver.status;
        receiver.record(request.headers, Buffer.concat(chunks).toString('utf8'), answered);
        response.writeHead(answered, { 'content-type': 'text/plain' }).end(answered < 300 ? 'ok' : 'no');
      });
    });
    await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/azsbackup`;
  }

  ofType(type: EngineEvent['type']): ReceivedMessage[] {
    return this.messages.filter((message) => message.event.type === type);
  }

  /** The message at `index` (0: the first) of all, or of those of `type`; throws when fewer came. */
  received(index: number, type?: EngineEvent['type']): ReceivedMessage {
    const message = (type ? this.ofType(type) : this.messages)[index];
    if (!message) throw new Error(`no message ${index + 1}${type ? ` of type ${type}` : ''} received`);
    return message;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private record(headers: IncomingHttpHeaders, body: string, answered: number): void {
    this.messages.push({
      id: String(headers['webhook-id']),
      receivedAt: Date.now(),
      headers,
      body,
      event: JSON.parse(body) as EngineEvent,
      signatureError: this.signatureError(headers, body),
      answered,
    });
  }

  private signatureError(headers: IncomingHttpHeaders, body: string): string | null {
    if (!this.verifier) return headers['webhook-signature'] ? 'a signature came without a secret' : null;
    try {
      this.verifier.verify(body, headers as Record<string, string>);
      return null;
    } catch (error) {
      return String((error as Error).message);
    }
  }
}

/** A secret as a receiver holds it: whsec_<base64> as the standard says, other text as UTF-8 bytes. */
export function verifierFor(secret: string): Webhook {
  return secret.startsWith('whsec_')
    ? new Webhook(secret)
    : new Webhook(new Uint8Array(Buffer.from(secret, 'utf8')), { format: 'raw' });
}

/** A port where nothing listens (a receiver that is down), to start a receiver on later. */
export async function closedPort(): Promise<number> {
  const receiver = await WebhookReceiver.start();
  const { port } = receiver;
  await receiver.close();
  return port;
}
