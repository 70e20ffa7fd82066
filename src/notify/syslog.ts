/**
 * The Syslog channel: every alert change and job end as one RFC 5424 message (syslogMessage.ts) to
 * `udp://host:port` (one datagram each, RFC 5426) or `tcp://host:port` (octet counting, RFC 6587:
 * `<length> <message>`, over one connection per target that is opened again when it drops).
 * Nothing is kept for later: syslog receivers stamp what they receive, and a late line would be
 * filed under the wrong time.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import os from 'node:os';
import type { EngineEvent } from '../protocol/events.js';
import type { TargetWithSecret } from '../state/notificationTargets.js';
import type { Channel, ChannelOptions, DeliveryResult } from './channel.js';
import { formatSyslogMessage } from './syslogMessage.js';

const CONNECT_TIMEOUT_MS = 5_000;

interface SyslogAddress {
  protocol: 'udp' | 'tcp';
  host: string;
  port: number;
}

/** `udp://host:port` or `tcp://host:port` (checked when the target was added). */
export function syslogAddress(uri: string): SyslogAddress {
  const url = new URL(uri);
  return {
    protocol: url.protocol === 'tcp:' ? 'tcp' : 'udp',
    // An IPv6 literal comes bracketed in a URL, and without brackets to the socket.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port),
  };
}

/** An octet-counted frame (RFC 6587 section 3.4.1): the message's length in bytes, a space, the message. */
export function octetCountedFrame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

/** How a host name becomes an address: the system's resolver (hosts file, DNS) by default. */
export type HostLookup = (host: string) => Promise<{ address: string; family: number }>;

/**
 * One datagram to the target, from a socket of the family of the address its host resolves to: a
 * udp4 socket cannot send to a name that resolves only to IPv6 (an IP literal resolves to itself).
 */
export async function sendDatagram(
  address: SyslogAddress,
  message: string,
  lookupHost: HostLookup = lookup,
): Promise<void> {
  const resolved = await lookupHost(address.host);
  const socket = dgram.createSocket(resolved.family === 6 ? 'udp6' : 'udp4');
  return new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.send(Buffer.from(message, 'utf8'), address.port, resolved.address, (error) =>
      error ? reject(error) : resolve(),
    );
  }).finally(() => socket.close());
}

/** One target's TCP connection, opened on first use and again after it dropped. */
class TcpConnection {
  private socket: net.Socket | null = null;

  constructor(readonly address: SyslogAddress) {}

  /** Writes one frame; a connection that turns out dropped is opened again once. */
  async write(frame: Buffer): Promise<void> {
    try {
      await this.writeOn(await this.connected(), frame);
    } catch {
      this.close();
      await this.writeOn(await this.connected(), frame);
    }
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private async connected(): Promise<net.Socket> {
    if (this.socket && !this.socket.destroyed && this.socket.writable) return this.socket;
    const socket = net.connect({ host: this.address.host, port: this.address.port });
    socket.setTimeout(CONNECT_TIMEOUT_MS);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
      socket.once('timeout', () => reject(new Error(`no connection within ${CONNECT_TIMEOUT_MS / 1000} s`)));
    }).catch((error: unknown) => {
      socket.destroy();
      throw error;
    });
    socket.setTimeout(0);
    // Errors and closes after the connection is up only mean "open a new one next time".
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket === socket) this.socket = null;
    });
    // Receivers do not answer; reading keeps the socket from holding what one might send.
    socket.resume();
    this.socket = socket;
    return socket;
  }

  private writeOn(socket: net.Socket, frame: Buffer): Promise<void> {
    return new Promise((resolve, reject) =>
      socket.write(frame, (error) => (error ? reject(error) : resolve())),
    );
  }
}

export class SyslogChannel implements Channel {
  private readonly connections = new Map<string, TcpConnection>();
  /** Messages to one target go in order, so a TCP receiver sees an alert open before it closes. */
  private readonly queues = new Map<string, Promise<void>>();
  private readonly origin = { hostname: os.hostname(), pid: process.pid };

  constructor(readonly options: ChannelOptions) {}

  wants(event: EngineEvent): boolean {
    return event.type.startsWith('alert.') || event.type.endsWith('.completed');
  }

  async deliver(target: TargetWithSecret, event: EngineEvent): Promise<void> {
    const { outcomes } = this.options;
    const result = await this.sendNow(target, event);
    if (result.Succeeded) outcomes.accepted(target.Name);
    else outcomes.undelivered(target.Name, `the ${event.type} message was not sent: ${result.Response}`);
  }

  sendNow(target: TargetWithSecret, event: EngineEvent): Promise<DeliveryResult> {
    const next = (this.queues.get(target.Name) ?? Promise.resolve()).then(() => this.send(target, event));
    this.queues.set(
      target.Name,
      next.then(() => undefined),
    );
    return next;
  }

  async pending(_targetName: string): Promise<number> {
    return 0;
  }

  async forget(targetName: string): Promise<void> {
    this.connections.get(targetName)?.close();
    this.connections.delete(targetName);
    this.queues.delete(targetName);
  }

  start(): void {}

  async stop(): Promise<void> {
    await Promise.all(this.queues.values());
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }

  private async send(target: TargetWithSecret, event: EngineEvent): Promise<DeliveryResult> {
    const address = syslogAddress(target.Uri);
    const message = formatSyslogMessage(event, this.origin);
    try {
      if (address.protocol === 'udp') await sendDatagram(address, message);
      else await this.connectionOf(target.Name, address).write(octetCountedFrame(message));
      return { Succeeded: true, StatusCode: null, Response: `sent over ${address.protocol.toUpperCase()}` };
    } catch (error) {
      return { Succeeded: false, StatusCode: null, Response: (error as Error).message ?? String(error) };
    }
  }

  /** The target's connection; a new one when the target's address changed under the same name. */
  private connectionOf(targetName: string, address: SyslogAddress): TcpConnection {
    const known = this.connections.get(targetName);
    if (known && known.address.host === address.host && known.address.port === address.port) return known;
    known?.close();
    const connection = new TcpConnection(address);
    this.connections.set(targetName, connection);
    return connection;
  }
}
