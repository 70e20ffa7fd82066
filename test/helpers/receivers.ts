/**
 * Small receivers on 127.0.0.1 for the notification tests: an HTTP server that records each request,
 * and UDP and TCP syslog listeners (TCP frames octet-counted, RFC 6587) that record each message.
 */
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Receiver<T> {
  /** Everything received so far, in order. */
  received: T[];
  port: number;
  close(): Promise<void>;
}

/** An HTTP server that answers each request with `answer(path)` (200 OK by default). */
export async function startHttpReceiver(
  answer: (path: string) => number = () => 200,
): Promise<Receiver<string>> {
  const received: string[] = [];
  const server = http.createServer((request, response) => {
    const path = request.url ?? '';
    received.push(path);
    const status = answer(path);
    response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'OK' : 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    received,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A UDP listener on `host` (an IPv4 or IPv6 address) keeping each datagram as text. */
export async function startUdpReceiver(host = '127.0.0.1'): Promise<Receiver<string>> {
  const received: string[] = [];
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', (message) => received.push(message.toString('utf8')));
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return {
    received,
    port: socket.address().port,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

/**
 * Splits an octet-counted stream (`<length> <message>`) into messages, whatever the chunks: one
 * frame may come in pieces, several may come in one chunk. Throws on a frame that is not counted.
 */
export class OctetCountedReader {
  private buffered = Buffer.alloc(0);

  push(chunk: Buffer): string[] {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    const messages: string[] = [];
    for (;;) {
      const space = this.buffered.indexOf(0x20);
      if (space < 0) return messages;
      const count = this.buffered.subarray(0, space).toString('ascii');
      if (!/^[1-9]\d*$/.test(count)) throw new Error(`not an octet count: ${JSON.stringify(count)}`);
      const end = space + 1 + Number(count);
      if (this.buffered.length < end) return messages;
      messages.push(this.buffered.subarray(space + 1, end).toString('utf8'));
      this.buffered = this.buffered.subarray(end);
    }
  }
}

export interface TcpReceiver extends Receiver<string> {
  /** Connections accepted so far. */
  connections: number;
  /** Drops every open connection, as a restarted receiver would. */
  dropConnections(): void;
}

export async function startTcpReceiver(): Promise<TcpReceiver> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    receiver.connections += 1;
    sockets.add(socket);
    const reader = new OctetCountedReader();
    socket.on('data', (chunk) => received.push(...reader.push(chunk)));
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const receiver: TcpReceiver = {
    received,
    connections: 0,
    port: (server.address() as AddressInfo).port,
    dropConnections: () => sockets.forEach((socket) => socket.destroy()),
    close: () => {
      receiver.dropConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}
