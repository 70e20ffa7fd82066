/**
 * The daemon process: one per state folder (a pid lock), listening on a local socket only (Unix
 * domain socket mode 0600 in a 0700 folder of its own, or a named pipe), serving at most
 * CONNECTION_LIMITS.maxConnections clients, stopping cleanly on SIGTERM/SIGINT.
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Engine } from '../engine/engine.js';
import { CONNECTION_LIMITS } from '../protocol/jsonrpc.js';
import type { DaemonStatus } from '../protocol/objects.js';
import { writeJsonAtomic } from '../util/atomicFile.js';
import { endpointIsFile, isProcessAlive } from '../util/platform.js';
import { preparePrivateFolder } from '../util/privateSocket.js';
import { Connection } from './connection.js';
import { Methods } from '../protocol/methods.js';
import type { StateLayout } from '../state/layout.js';
import { createHandlers, daemonMethods, type DaemonControl, type DaemonMethods } from './dispatch.js';

export const VERSION = '0.1.0';

export class DaemonAlreadyRunning extends Error {
  constructor(readonly pid: number) {
    super(`A daemon is already running for this state folder (pid ${pid}).`);
  }
}

export interface DaemonOptions {
  engine: Engine;
  endpoint: string;
  token: string;
  /** Methods served besides the protocol's: the test hooks of a daemon started with --test-hooks. */
  extraMethods?: DaemonMethods;
}

export class Daemon implements DaemonControl {
  private readonly server: net.Server;
  private readonly connections = new Set<net.Socket>();
  private readonly startedAt = new Date();
  private stopped: Promise<void> | null = null;

  constructor(private readonly options: DaemonOptions) {
    const { engine, token } = options;
    const methods = new Map([
      ...daemonMethods(Methods, createHandlers(engine, this)),
      ...(options.extraMethods ?? []),
    ]);
    this.server = net.createServer((socket) => {
      this.connections.add(socket);
      socket.on('close', () => this.connections.delete(socket));
      const connection = new Connection(socket, {
        token,
        methods,
        log: engine.log,
        deploymentId: engine.state.identity.DeploymentId,
      });
      if (this.connections.size > CONNECTION_LIMITS.maxConnections)
        connection.refuse(
          'TooManyConnections',
          `The daemon already serves ${CONNECTION_LIMITS.maxConnections} connections; this one is closed. ` +
            'Close connections that are no longer needed (each cmdlet uses one while it runs) and try again.',
        );
    });
  }

  private get state(): StateLayout {
    return this.options.engine.state;
  }

  async start(): Promise<void> {
    await mkdir(this.state.runDir, { recursive: true, mode: 0o700 });
    await this.acquireLock();
    const { endpoint } = this.options;
    if (endpointIsFile(endpoint)) {
      // Never a folder another user made first or could enter: the token and secrets pass here.
      await preparePrivateFolder(path.dirname(endpoint));
      await rm(endpoint, { force: true });
    }
    // The socket file is made 0600 (umask), never briefly wider: a client that meets it between
    // listen and a chmod would rightly refuse it (it checks the mode before sending the token).
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(endpoint, () => resolve());
      });
    } finally {
      process.umask(umask);
    }
    await writeJsonAtomic(this.state.daemonStatusFile, this.status());
    this.options.engine.log.info('daemon started', { pid: process.pid, endpoint });
  }

  status(): DaemonStatus {
    const { identity, root } = this.options.engine.state;
    return {
      pid: process.pid,
      version: VERSION,
      stateDir: root,
      socket: this.options.endpoint,
      deploymentId: identity.DeploymentId,
      location: identity.Location,
      startedAt: this.startedAt.toISOString(),
    };
  }

  /** Stops listening, ends every connection, removes the socket and the lock. Idempotent. */
  shutdown(): Promise<void> {
    this.stopped ??= this.close();
    return this.stopped;
  }

  waitUntilStopped(): Promise<void> {
    return new Promise((resolve) => this.server.once('close', () => resolve()));
  }

  private async close(): Promise<void> {
    this.options.engine.log.info('daemon stopping', { pid: process.pid });
    await this.options.engine.stop();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.connections) socket.destroy();
    await closed;
    if (endpointIsFile(this.options.endpoint)) await rm(this.options.endpoint, { force: true });
    await rm(this.state.daemonStatusFile, { force: true });
    await rm(this.lockFile, { force: true });
  }

  private get lockFile(): string {
    return this.state.pidLockFile;
  }

  /** One daemon per state folder: the pid file is created exclusively; a dead owner's is taken over. */
  private async acquireLock(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const handle = await open(this.lockFile, 'wx', 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number.parseInt(await readFile(this.lockFile, 'utf8').catch(() => ''), 10);
        if (Number.isInteger(owner) && owner !== process.pid && isProcessAlive(owner))
          throw new DaemonAlreadyRunning(owner);
        await rm(this.lockFile, { force: true });
      }
    }
    throw new Error(`Could not take the daemon lock ${this.lockFile}.`);
  }
}
