/**
 * A recording proxy in front of a blob endpoint (Azurite): a daemon pointed at it reaches the
 * endpoint as before (each request passed on unchanged, each answer streamed back), and the proxy
 * notes every request that changed a blob, so that a test can tell whether any blob name was
 * written twice, as a container under an immutability policy would refuse. It can also answer as
 * such a container does (`retentionPolicyMs`), which Azurite cannot: it has no immutability policies;
 * and as a service that throttles (`throttled`: 503 ServerBusy), which Azurite never does.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request that changed a blob and was answered with success. */
export interface BlobChange {
  blob: string;
  /** `Put Blob`, `Put Block List`, `Delete Blob`, or `PUT <comp>` for any other change. */
  operation: string;
}

export class BlobWriteLog {
  readonly changes: BlobChange[] = [];
  /**
   * While set, a container-level time-based retention policy of this length: a delete or rewrite of
   * a blob written through the proxy less than this long ago is refused as Azure refuses it (409
   * BlobImmutableDueToPolicy) and never reaches the endpoint; new blobs are written as before.
   */
  retentionPolicyMs: number | null = null;
  /** Requests still to be answered 503 ServerBusy, as a throttling service answers, before any is passed on. */
  throttled = 0;
  /** When each blob written through the proxy was last written. */
  private readonly writtenAt = new Map<string, number>();
  /** `http://127.0.0.1:<proxy port>/<account>`, once listening. */
  accountUrl = '';
  private readonly agent = new http.Agent({ keepAlive: true });
  private readonly server = http.createServer((request, response) => this.forward(request, response));

  private constructor(private readonly upstream: URL) {}

  /** A proxy for the account at `accountUrl` (`http://127.0.0.1:<port>/<account>`). */
  static async start(accountUrl: string): Promise<BlobWriteLog> {
    const log = new BlobWriteLog(new URL(accountUrl));
    log.server.listen(0, '127.0.0.1');
    await once(log.server, 'listening');
    const { port } = log.server.address() as AddressInfo;
    log.accountUrl = `http://127.0.0.1:${port}${log.upstream.pathname}`;
    return log;
  }

  containerUrl(container: string): string {
    return `${this.accountUrl}/${container}`;
  }

  /** The writes of each blob name written more than once (a staged block is no write: it changes nothing yet). */
  rewritten(): Record<string, string[]> {
    const writes = new Map<string, string[]>();
    for (const { blob, operation } of this.changes) {
      if (operation === 'Delete Blob') continue;
      writes.set(blob, [...(writes.get(blob) ?? []), operation]);
    }
    return Object.fromEntries([...writes].filter(([, operations]) => operations.length > 1));
  }

  /** A blob written through the proxy within the policy's period (one never written here is not kept). */
  private keptByPolicy(blob: string): boolean {
    const written = this.writtenAt.get(blob);
    return (
      this.retentionPolicyMs !== null &&
      written !== undefined &&
      Date.now() - written < this.retentionPolicyMs
    );
  }

  private record(change: BlobChange): void {
    this.changes.push(change);
    if (change.operation === 'Delete Blob') this.writtenAt.delete(change.blob);
    else this.writtenAt.set(change.blob, Date.now());
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    this.agent.destroy();
    await once(this.server, 'close');
  }

  private forward(request: http.IncomingMessage, response: http.ServerResponse): void {
    if (this.throttled > 0) {
      this.throttled -= 1;
      return answerError(request, response, 503, 'ServerBusy', 'The server is busy.');
    }
    const change = changeOf(request.method ?? '', request.url ?? '/');
    if (change && this.keptByPolicy(change.blob)) {
      return answerError(
        request,
        response,
        409,
        'BlobImmutableDueToPolicy',
        'This operation is not permitted as the blob is immutable due to a policy.',
      );
    }
    const forwarded = http.request(
      {
        host: this.upstream.hostname,
        port: this.upstream.port,
        method: request.method,
        path: request.url,
        headers: request.headers,
        agent: this.agent,
      },
      (answer) => {
        if (change && answer.statusCode !== undefined && answer.statusCode < 300) this.record(change);
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    // The endpoint gone: the client sees its connection drop, as it would without the proxy.
    forwarded.once('error', () => response.destroy());
    request.pipe(forwarded);
  }
}

/** An error answer in the service's form: its status, its error code in a header and in the XML body. */
function answerError(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  status: number,
  code: string,
  message: string,
): void {
  request.resume();
  response.writeHead(status, { 'content-type': 'application/xml', 'x-ms-error-code': code });
  response.end(
    `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}

/** The blob change a request makes, if any: container requests and reads change no blob. */
function changeOf(method: string, url: string): BlobChange | null {
  const { pathname, searchParams } = new URL(url, 'http://proxy');
  // /<account>/<container>/<blob name, which may hold slashes and end with one>
  const blob = decodeURIComponent(pathname.split('/').slice(3).join('/'));
  if (!blob || searchParams.has('restype')) return null;
  const comp = searchParams.get('comp');
  if (method === 'DELETE') return { blob, operation: 'Delete Blob' };
  if (method !== 'PUT' || comp === 'block') return null;
  return {
    blob,
    operation: comp === null ? 'Put Blob' : comp === 'blocklist' ? 'Put Block List' : `PUT ${comp}`,
  };
}
