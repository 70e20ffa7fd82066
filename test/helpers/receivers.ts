/**
 * Real receivers on 127.0.0.1 for the notification tests: an HTTP server that records every request
 * (webhooks, heartbeat pings) and answers with the status a test chooses, and syslog listeners over
 * UDP (one message per datagram) and TCP (octet-counted frames, RFC 6587).
 */
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { waitUntil } from './waitUntil.js';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Date.now() when the request ended. */
  receivedAt: number;
}

/** Chooses the status of the n-th request (0-based); 200 by default. */
export type Responder = (request: ReceivedRequest, index: number) => number;

export class HttpReceiver {
  readonly requests: ReceivedRequest[] = [];

  private constructor(
    private readonly server: http.Server,
    public respond: Responder,
  ) {}

  static async start(respond: Responder = () => 200): Promise<HttpReceiver> {
    const server = http.createServer();
    const receiver = new HttpReceiver(server, respond);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const received: ReceivedRequest = {
          method: request.method ?? '',
          path: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          receivedAt: Date.now(),
        };
        const status = receiver.respond(received, receiver.requests.length);
        receiver.requests.push(received);
        response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'OK' : 'NO');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(pathname = '/'): string {
    return `http://127.0.0.1:${this.port}${pathname}`;
  }

  /** Waits until a request matches, and returns it. */
  async waitFor(
    matches: (request: ReceivedRequest) => boolean,
    what: string,
    timeoutMs = 20_000,
  ): Promise<ReceivedRequest> {
    await waitUntil(() => this.requests.some(matches), what, timeoutMs);
    return this.requests.find(matches)!;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A syslog listener: every message received, as text, in order. */
export class SyslogReceiver {
  readonly messages: string[] = [];

  private constructor(
    readonly uri: string,
    private readonly closeListener: () => Promise<void>,
  ) {}

  static async udp(): Promise<SyslogReceiver> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const receiver = new SyslogReceiver(
      `udp://127.0.0.1:${socket.address().port}`,
      () => new Promise((resolve) => socket.close(() => resolve())),
    );
    socket.on('message', (message) => receiver.messages.push(message.toString('utf8')));
    return receiver;
  }

  static async tcp(): Promise<SyslogReceiver> {
    const connections = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      connections.add(socket);
      socket.on('close', () => connections.delete(socket));
      let pending: Buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        pending = receiver.takeFrames(pending);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const receiver: SyslogReceiver = new SyslogReceiver(
      `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`,
      () =>
        new Promise((resolve) => {
          for (const socket of connections) socket.destroy();
          server.close(() => resolve());
        }),
    );
    return receiver;
  }

  /** Takes the complete octet-counted frames ("<length> <message>") off the front; returns the rest. */
  private takeFrames(buffer: Buffer): Buffer {
    let rest = buffer;
    for (;;) {
      const space = rest.indexOf(0x20);
      if (space < 0) return rest;
      const length = Number(rest.subarray(0, space).toString('ascii'));
      if (!Number.isInteger(length) || length <= 0) throw new Error(`not an octet-counted frame: ${rest}`);
      if (rest.length < space + 1 + length) return rest;
      this.messages.push(rest.subarray(space + 1, space + 1 + length).toString('utf8'));
      rest = rest.subarray(space + 1 + length);
    }
  }

  close(): Promise<void> {
    return this.closeListener();
  }
}
