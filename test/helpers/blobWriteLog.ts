/**
 * A recording proxy in front of a blob endpoint (Azurite): a daemon pointed at it reaches the
 * endpoint as before (each request passed on unchanged, each answer streamed back), and the proxy
 * notes every request that changed a blob, so that a test can tell whether any blob name was
 * written twice, as a container under an immutability policy would refuse.
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

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    this.agent.destroy();
    await once(this.server, 'close');
  }

  private forward(request: http.IncomingMessage, response: http.ServerResponse): void {
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
        const change = changeOf(request.method ?? '', request.url ?? '/');
        if (change && answer.statusCode !== undefined && answer.statusCode < 300) this.changes.push(change);
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    // The endpoint gone: the client sees its connection drop, as it would without the proxy.
    forwarded.once('error', () => response.destroy());
    request.pipe(forwarded);
  }
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
