/**
 * An SMB 3 share as the external store, reached through Samba's `smbclient` (no OS mount, no root).
 * Each operation is one smbclient run started in the store's root folder (`-D`), so a missing root
 * fails every operation with PathNotFound instead of touching the share's top. Data streams through
 * the child's stdin (`put -`) and stdout (`get … -`) with backpressure end to end.
 */
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { PassThrough, Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AzsError, isAzsError } from '../protocol/errors.js';
import { type FileDigest, digestStream } from '../util/fileDigest.js';
import {
  collectOutput,
  finished,
  quoteRemote,
  startSmbclient,
  Watchdog,
  type SmbConnection,
  type SmbRun,
} from './smbClient.js';
import { decisiveStatus, smbFailure, statusesIn, type SmbFailureContext } from './smbErrors.js';
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
  private readonly running = new Set<ChildProcess>();
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
    // In recurse mode smbclient's mkdir creates the missing parents too.
    await this.run(['recurse', `mkdir ${quoteRemote(parts)}`], relativePath, [
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
    const child = this.start([`get ${quoteRemote(parts)} -`], { stdin: 'ignore', quietMessages: true });
    const messages = collectOutput(child, ['stderr']);
    const data = new PassThrough({ highWaterMark: READ_BUFFER_BYTES });
    const watchdog = this.watchdog(child, () => data.writableNeedDrain);
    child.stdout!.on('data', () => watchdog.touch());
    child.stdout!.pipe(data, { end: false });
    data.on('close', () => child.kill('SIGKILL'));
    return new Promise((resolve, reject) => {
      let handedOver = false;
      child.stdout!.once('data', () => ((handedOver = true), resolve(data)));
      finished(child, messages, watchdog).then((run) => {
        const failure = this.failureOf(run, relativePath);
        if (handedOver) return failure ? data.destroy(failure) : data.end();
        handedOver = true;
        if (failure) return reject(failure);
        data.end();
        resolve(data);
      }, reject);
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

  async rename(from: string, to: string): Promise<void> {
    await this.run([`rename ${quoteRemote(this.fileParts(from))} ${quoteRemote(this.fileParts(to))}`], from);
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
    // encrypted; the output is parsed here and never logged.
    this.session ??= parseSessionInfo(await this.run(['du'], '', [], 5));
    return this.session;
  }

  async close(): Promise<void> {
    for (const child of this.running) child.kill('SIGKILL');
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
   * Streams `source` into smbclient's stdin. A failing source kills the child at once: smbclient
   * would take the closed pipe for the end of the file and store the part it got.
   */
  private async upload(source: Readable, remote: string[], target: string): Promise<number> {
    // `put -` reads stdin itself: /dev/stdin cannot be opened when stdin is node's socket pair.
    // smbclient runs no command after it, so the size check is a run of its own.
    const child = this.start([`put - ${quoteRemote(remote)}`], { stdin: 'pipe' });
    const output = collectOutput(child, ['stdout', 'stderr']);
    const stdin = child.stdin!;
    // Whichever stream fails first is where the failure began; pipeline then destroys the others.
    let origin: 'source' | 'child' | null = null;
    source.once('error', () => (origin ??= 'source'));
    stdin.once('error', () => (origin ??= 'child'));
    const watchdog = this.watchdog(child, () => !stdin.writableFinished && stdin.writableLength === 0);
    const blocks = new Blocks(() => watchdog.touch());
    const pipeFailure = await pipeline(source, blocks, stdin).then(
      () => null,
      (error: unknown) => error,
    );
    const sourceBroke = pipeFailure !== null && origin !== 'child';
    if (sourceBroke) child.kill('SIGKILL');
    const run = await finished(child, output, watchdog);
    const failure = this.failureOf(run, target, [], sourceBroke);
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
  private async run(
    commands: string[],
    target: string,
    tolerated: string[] = [],
    debugLevel?: number,
  ): Promise<string> {
    const child = this.start(commands, { stdin: 'ignore', debugLevel });
    const output = collectOutput(child, ['stdout', 'stderr'], Infinity);
    const watchdog = this.watchdog(child, () => false);
    const run = await finished(child, output, watchdog);
    const failure = this.failureOf(run, target, tolerated);
    if (failure) throw failure;
    return run.output;
  }

  private start(commands: string[], options: Parameters<typeof startSmbclient>[2]): ChildProcess {
    const child = startSmbclient(this.connection, commands, options);
    this.running.add(child);
    child.once('close', () => this.running.delete(child));
    return child;
  }

  private watchdog(child: ChildProcess, isWaitingOnUs: () => boolean): Watchdog {
    return new Watchdog(child, (this.connection.timeoutSeconds + KILL_GRACE_SECONDS) * 1000, isWaitingOnUs);
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
