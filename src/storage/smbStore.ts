/**
 * An SMB 3 share as the external store, reached through Samba's `smbclient` (no OS mount, no root).
 * The store keeps its SMB sessions (smbSession.ts: one interactive smbclient each) from first use to
 * close(): one for a job whose calls come one after another, one more for each call that runs while
 * all others are busy (parallel streams). A session starts in the store's root folder (`-D`), so a
 * missing root fails every operation with PathNotFound instead of touching the share's top. Data
 * streams through the session's FIFO (`put <fifo>`, `get … <fifo>`) with backpressure end to end.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { PassThrough, Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { AzsError, isAzsError } from '../protocol/errors.js';
import { type FileDigest, digestStream } from '../util/fileDigest.js';
import { quoteRemote, type SmbConnection, type SmbRun } from './smbClient.js';
import { decisiveStatus, smbFailure, statusesIn, type SmbFailureContext } from './smbErrors.js';
import { fifoReader, fifoWriter } from './smbFifo.js';
import { SmbSession } from './smbSession.js';
import { parseListing, parseSessionInfo, parseCapacity } from './smbOutput.js';
import { parseSmbLocation, parseSmbLogon, splitStorePath, formatSmbLocation } from './smbPath.js';
import type { BackupStore, Capacity, SessionInfo, StoreEntry, StoreSettings } from './store.js';

export interface SmbStoreOptions {
  /** Seconds one SMB request may take before the operation fails as ShareUnreachable (default 30). */
  timeoutSeconds?: number;
  /** The smbclient program (default: `smbclient` from PATH). */
  program?: string;
}

/** Statuses that mean "nothing has that name" for the commands that look a name up. */
const NOT_FOUND = [
  'NT_STATUS_NO_SUCH_FILE',
  'NT_STATUS_OBJECT_NAME_NOT_FOUND',
  'NT_STATUS_OBJECT_PATH_NOT_FOUND',
];
const KILL_GRACE_SECONDS = 5;
const READ_BUFFER_BYTES = 1024 * 1024;
const BLOCK_BYTES = 1024 * 1024;

export class SmbStore implements BackupStore {
  readonly location: string;
  private readonly connection: SmbConnection;
  /** Every session this store has open, and those of them no call is using. */
  private readonly sessions = new Set<SmbSession>();
  private idle: SmbSession[] = [];
  private closed = false;
  private session: SessionInfo | null = null;

  constructor(settings: StoreSettings, options: SmbStoreOptions = {}) {
    this.location = settings.path;
    this.connection = {
      location: parseSmbLocation(settings.path),
      logon: settings.userName ? parseSmbLogon(settings.userName) : null,
      password: settings.password,
      requireEncryption: settings.requireEncryption,
      timeoutSeconds: options.timeoutSeconds ?? 30,
      program: options.program ?? 'smbclient',
    };
  }

  async checkRoot(): Promise<void> {
    await this.run(['pwd'], '');
  }

  async mkdir(relativePath: string): Promise<void> {
    const parts = splitStorePath(relativePath);
    if (parts.length === 0) return this.checkRoot();
    // In recurse mode smbclient's mkdir creates the missing parents too. `recurse` is a toggle that
    // outlives the command in the session, and would make every later ls and du recursive: so the
    // mode is switched back at once (the lines run in turn, also after a failed mkdir).
    await this.run(['recurse', `mkdir ${quoteRemote(parts)}`, 'recurse'], relativePath, [
      'NT_STATUS_OBJECT_NAME_COLLISION',
    ]);
  }

  async writeFile(relativePath: string, source: Readable): Promise<number> {
    const parts = this.fileParts(relativePath);
    const temp = [
      ...parts.slice(0, -1),
      `${parts[parts.length - 1]}.partial-${randomBytes(4).toString('hex')}`,
    ];
    try {
      const written = await this.upload(source, temp, relativePath);
      await this.verifySize(temp, written, relativePath);
      await this.run([`rename ${quoteRemote(temp)} ${quoteRemote(parts)} -f`], relativePath);
      return written;
    } catch (error) {
      // A server that is gone cannot delete anything (and would hold us for another timeout);
      // prune removes the leftover later.
      if (!isAzsError(error, 'ShareUnreachable')) {
        await this.run([`del ${quoteRemote(temp)}`], relativePath, NOT_FOUND).catch(() => undefined);
      }
      throw error;
    }
  }

  async readFile(relativePath: string): Promise<Readable> {
    const parts = this.fileParts(relativePath);
    const { session } = await this.acquire();
    const fifo = await fifoReader(session.fifo).catch((error: unknown) => {
      this.release(session, false);
      throw error;
    });
    const data = new PassThrough({ highWaterMark: READ_BUFFER_BYTES });
    const command = session.run(
      [`get ${quoteRemote(parts)} "${session.fifo}"`],
      this.limitMs(),
      () => data.writableNeedDrain,
    );
    // Settles however the FIFO's stream ends: at its end, or destroyed by a reader that stopped.
    const drained = finished(fifo.stream).catch(() => undefined);
    fifo.stream.on('data', () => command.watchdog.touch());
    fifo.stream.pipe(data, { end: false });
    let done = false;
    // A reader that stops early leaves smbclient blocked on the FIFO: that session cannot go on.
    data.on('close', () => (done || session.kill(), fifo.stream.destroy()));
    return new Promise((resolve, reject) => {
      let handedOver = false;
      fifo.stream.once('data', () => ((handedOver = true), resolve(data)));
      const settle = async (run: SmbRun) => {
        fifo.commandEnded();
        const failure = this.failureOf(run, relativePath);
        if (!failure) await drained;
        done = true;
        this.release(session, failure === null);
        if (handedOver) return failure ? data.destroy(failure) : data.end();
        handedOver = true;
        if (failure) return reject(failure);
        data.end();
        resolve(data);
      };
      command.result.then(settle).catch((error: unknown) => {
        this.release(session, false);
        if (handedOver) data.destroy(error as Error);
        else reject(error);
      });
    });
  }

  /** Read back through the client, as a restore would read the file. */
  async digest(relativePath: string): Promise<FileDigest> {
    return digestStream(await this.readFile(relativePath));
  }

  async list(relativePath: string): Promise<StoreEntry[]> {
    const parts = splitStorePath(relativePath);
    const output = await this.run([`ls ${quoteRemote([...parts, '*'])}`], relativePath, NOT_FOUND);
    return parseListing(output).filter((entry) => entry.name !== '.' && entry.name !== '..');
  }

  async stat(relativePath: string): Promise<StoreEntry | null> {
    const parts = splitStorePath(relativePath);
    if (parts.length === 0) {
      await this.checkRoot();
      return { name: '', type: 'directory', size: 0, modified: new Date(0) };
    }
    const output = await this.run([`ls ${quoteRemote(parts)}`], relativePath, NOT_FOUND);
    return parseListing(output).find((entry) => entry.name === parts[parts.length - 1]) ?? null;
  }

  async remove(relativePath: string): Promise<void> {
    // deltree removes a file, or a folder with everything below it.
    await this.run([`deltree ${quoteRemote(this.fileParts(relativePath))}`], relativePath, NOT_FOUND);
  }

  async capacity(): Promise<Capacity> {
    return parseCapacity(await this.run(['du'], ''));
  }

  async sessionInfo(): Promise<SessionInfo> {
    // Debug level 5 names the negotiated dialect and says, per message, whether it was signed or
    // encrypted; the output is parsed here and never logged. A session of its own: at that level
    // smbclient would also log every message of every transfer.
    if (!this.session) {
      const debug = await SmbSession.open(this.connection, { debugLevel: 5 });
      this.sessions.add(debug);
      try {
        this.session = parseSessionInfo(await this.runIn(debug, ['du'], ''));
      } finally {
        this.sessions.delete(debug);
        await debug.close();
      }
    }
    return this.session;
  }

  /** Ends every session: smbclient logs off, or is killed when a call is still under way. */
  async close(): Promise<void> {
    this.closed = true;
    this.idle = [];
    await Promise.all([...this.sessions].map((session) => session.close()));
    this.sessions.clear();
  }

  /** Components of a path that must name something below the root (not the root itself). */
  private fileParts(relativePath: string): string[] {
    const parts = splitStorePath(relativePath);
    if (parts.length === 0) {
      throw new AzsError(
        'InvalidParameter',
        'A file operation needs a path below the store root; it got the root.',
        {
          target: relativePath,
        },
      );
    }
    return parts;
  }

  /**
   * Streams `source` into the session's FIFO. A failing source kills smbclient at once: it would
   * take the FIFO's end for the end of the file and store the part it got.
   */
  private async upload(source: Readable, remote: string[], target: string): Promise<number> {
    const { session, reused } = await this.acquire();
    let sink: Socket | null = null;
    const command = session.run(
      [`put "${session.fifo}" ${quoteRemote(remote)}`],
      this.limitMs(),
      () => sink !== null && !sink.writableFinished && sink.writableLength === 0,
    );
    // Whichever stream fails first is where the failure began; pipeline then destroys the others.
    let origin: 'source' | 'child' | null = null;
    let sourceError: unknown = null;
    const sourceFailed = (error: unknown) => {
      origin ??= 'source';
      if (origin !== 'source') return;
      sourceError = error;
      session.kill();
    };
    source.once('error', sourceFailed);
    sink = await fifoWriter(session.fifo, command.result).catch((error: unknown) => {
      session.kill();
      throw error;
    });
    if (!sink) {
      // smbclient never opened the FIFO: the remote file could not be made, and no byte was taken.
      const run = await command.result;
      if (sourceError !== null) {
        this.release(session, false);
        throw sourceFailure(sourceError, target);
      }
      const failure =
        this.failureOf(run, target) ?? smbFailure(null, run.output, this.failureContext(target));
      this.release(session, this.keeps(failure));
      // A session that lay idle may have lost its connection meanwhile; the source is still whole.
      if (reused && isAzsError(failure, 'ShareUnreachable')) {
        source.off('error', sourceFailed);
        return this.upload(source, remote, target);
      }
      source.destroy();
      throw failure;
    }
    sink.once('error', () => (origin ??= 'child'));
    const blocks = new Blocks(() => command.watchdog.touch());
    const pipeFailure = await pipeline(source, blocks, sink).then(
      () => null,
      (error: unknown) => error,
    );
    const sourceBroke = pipeFailure !== null && origin !== 'child';
    if (sourceBroke) session.kill();
    const run = await command.result;
    const failure = this.failureOf(run, target, [], sourceBroke);
    // A transfer cut short leaves smbclient's connection unusable (writes still outstanding).
    this.release(session, failure === null && pipeFailure === null);
    if (failure) throw failure;
    if (sourceBroke) throw sourceFailure(pipeFailure, target);
    if (pipeFailure) throw smbFailure(null, run.output, this.failureContext(target));
    return blocks.bytes;
  }

  /** Nothing is renamed into place unless the share holds every byte that was sent. */
  private async verifySize(remote: string[], written: number, target: string): Promise<void> {
    const stored = await this.stat(remote.join('/'));
    if (stored?.size !== written) {
      throw new AzsError(
        'StoreFault',
        `The share stored ${stored?.size ?? 'no'} bytes of '${target}' where ${written} were sent. Check the file server's log and disk.`,
        { target },
      );
    }
  }

  /** Runs commands that move no file data; returns their output or throws the mapped failure. */
  private async run(commands: string[], target: string, tolerated: string[] = []): Promise<string> {
    const { session } = await this.acquire();
    try {
      const output = await this.runIn(session, commands, target, tolerated);
      this.release(session, true);
      return output;
    } catch (error) {
      this.release(session, isAzsError(error) && this.keeps(error));
      throw error;
    }
  }

  private async runIn(
    session: SmbSession,
    commands: string[],
    target: string,
    tolerated: string[] = [],
  ): Promise<string> {
    const run = await session.run(commands, this.limitMs()).result;
    const failure = this.failureOf(run, target, tolerated);
    if (failure) throw failure;
    return run.output;
  }

  /**
   * An idle session, or a new one when every session is busy: so a job whose calls come one after
   * another uses one session, and each stream that truly runs beside others one more.
   */
  private async acquire(): Promise<{ session: SmbSession; reused: boolean }> {
    for (let session = this.idle.pop(); session; session = this.idle.pop()) {
      if (session.usable) return { session, reused: true };
      this.sessions.delete(session);
    }
    const session = await SmbSession.open(this.connection);
    this.sessions.add(session);
    return { session, reused: false };
  }

  /** Back to the idle sessions, or ended when a failure may have left its connection unusable. */
  private release(session: SmbSession, keep: boolean): void {
    if (keep && session.usable && !this.closed) {
      this.idle.push(session);
      return;
    }
    this.sessions.delete(session);
    session.kill();
  }

  /**
   * Whether a session is still to be trusted after `failure`: a refusal by the server (a missing
   * name, no access, no room) leaves it connected; a lost connection or an unexplained fault does
   * not, so the next call (a retry of an idempotent step among them) starts a new session.
   */
  private keeps(failure: AzsError | null): boolean {
    return failure === null || !['ShareUnreachable', 'StoreFault'].includes(failure.reason);
  }

  private limitMs(): number {
    return (this.connection.timeoutSeconds + KILL_GRACE_SECONDS) * 1000;
  }

  /**
   * The failure a finished run stands for, or null. Statuses decide (smbclient exits 0 after some
   * failures); a non-zero exit without one is a fault unless we killed the child ourselves, and
   * SIGPIPE means its connection to the server broke.
   */
  private failureOf(
    run: SmbRun,
    target: string,
    tolerated: string[] = [],
    killedByUs = false,
  ): AzsError | null {
    const context = this.failureContext(target);
    if (run.timedOut) {
      return new AzsError(
        'ShareUnreachable',
        `The file server '${context.host}' did not answer within ${this.connection.timeoutSeconds + KILL_GRACE_SECONDS} seconds. Check that it is running and reachable from this host, then retry.`,
        { target: target || this.location },
      );
    }
    if (run.signal === 'SIGPIPE' && !killedByUs) {
      return new AzsError(
        'ShareUnreachable',
        `The file server '${context.host}' dropped the connection during the transfer of '${target}'. Check that it is running and reachable from this host, then retry.`,
        { target: target || this.location },
      );
    }
    const output = this.scrub(run.output);
    const statuses = statusesIn(output);
    const failing = statuses.filter((status) => !tolerated.includes(status));
    if (failing.length > 0) return smbFailure(decisiveStatus(failing), output, context);
    if (run.sessionEnded && run.exitCode === 0 && statuses.length === 0 && !killedByUs) {
      return new AzsError(
        'ShareUnreachable',
        `The SMB session with '${context.host}' ended before the operation on '${target || this.location}' finished (${output.trim().split('\n').at(-1) || 'no message'}). Check that the file server is running and reachable from this host, then retry.`,
        { target: target || this.location },
      );
    }
    if (run.exitCode !== 0 && statuses.length === 0 && !killedByUs) return smbFailure(null, output, context);
    return null;
  }

  private failureContext(target: string): SmbFailureContext {
    const { location, logon, requireEncryption } = this.connection;
    return {
      location: formatSmbLocation(location),
      host: location.host,
      share: location.share,
      target,
      user: logon ? logon.user : null,
      requireEncryption,
    };
  }

  /** smbclient never receives the password in a command, but a message must not carry it even so. */
  private scrub(text: string): string {
    const { password } = this.connection;
    return password ? text.split(password).join('***') : text;
  }
}

/**
 * Gathers a source's chunks into blocks of at least BLOCK_BYTES and counts them. smbclient reads
 * its stdin in SMB-write-sized pieces (8 MiB), and fewer, larger writes into the pipe nearly double
 * the upload rate of a stream of 64 KiB chunks (docs/storage.md, "SMB engine").
 */
class Blocks extends Transform {
  bytes = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly onBlock: () => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= BLOCK_BYTES) this.release();
    done();
  }

  override _flush(done: (error?: Error | null) => void): void {
    if (this.pendingBytes > 0) this.release();
    done();
  }

  private release(): void {
    const [first] = this.pending;
    const block = this.pending.length === 1 && first ? first : Buffer.concat(this.pending, this.pendingBytes);
    this.bytes += block.length;
    this.pending = [];
    this.pendingBytes = 0;
    this.onBlock();
    this.push(block);
  }
}

function sourceFailure(error: unknown, target: string): AzsError {
  if (error instanceof AzsError) return error;
  return new AzsError(
    'StoreFault',
    `Writing '${target}' stopped: its data source failed (${(error as Error).message ?? error}).`,
    {
      target,
      cause: error,
    },
  );
}
