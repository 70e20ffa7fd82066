/**
 * One SMB session: one interactive smbclient that stays connected to the share and runs the store's
 * commands one after the other, each written to its stdin and followed by a bare `echo`, whose usage
 * line ("echo <num> <data>") marks where that command's messages end (no path can hold '<' or '>',
 * see nameProblem). File data goes through a FIFO of the session's own (see smbFifo.ts): smbclient's
 * stdin carries the commands, so `put -` cannot be used.
 *
 * Each command has the kill timer a whole smbclient run had before: a command that makes no progress
 * for the limit kills the session's smbclient, and the command ends as timed out.
 */
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startSmbclient, Watchdog, type SmbConnection, type SmbRun } from './smbClient.js';

const END_MARK = 'echo <num> <data>\n';
const CLOSE_GRACE_MS = 2000;
const run = promisify(execFile);

/** A command under way: its end, and the kill timer that watches it. */
export interface SmbCommand {
  result: Promise<SmbRun>;
  watchdog: Watchdog;
}

interface Pending {
  resolve: (run: SmbRun) => void;
  reject: (error: Error) => void;
  watchdog: Watchdog;
}

export class SmbSession {
  private readonly child: ChildProcess;
  /** Messages not yet claimed by a command's end mark. */
  private text = '';
  private pending: Pending | null = null;
  private startFailure: Error | null = null;
  private readonly exited: Promise<void>;
  private ended = false;

  private constructor(
    connection: SmbConnection,
    /** The FIFO transfers go through, in a folder only this user can enter. */
    readonly fifo: string,
    options: { debugLevel?: number },
  ) {
    this.child = startSmbclient(connection, options);
    this.child.stdin!.on('error', () => undefined); // a dead child: its 'close' ends the command
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => this.received(chunk));
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        // Nothing could be started (no stdbuf): every command fails with this error. A missing
        // smbclient is stdbuf's exit 127 with its message, mapped like any other failure.
        this.startFailure = error;
        this.end(null, null);
        resolve();
      });
      this.child.once('close', (exitCode, signal) => {
        this.end(exitCode, signal);
        resolve();
      });
    });
  }

  /** Starts smbclient; it connects and logs on while the first command waits on its stdin. */
  static async open(connection: SmbConnection, options: { debugLevel?: number } = {}): Promise<SmbSession> {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'azs-smb-'));
    const fifo = path.join(folder, 'data');
    await run('mkfifo', ['-m', '600', fifo]);
    return new SmbSession(connection, fifo, options);
  }

  /** False once smbclient has ended (or is being ended): the session cannot take a command. */
  get usable(): boolean {
    return !this.ended && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Sends `commands` (one a line) and the end mark. `limitMs` and `isWaitingOnUs` are the kill
   * timer's (see Watchdog); a caller that moves data touches the returned watchdog as it goes.
   */
  run(commands: string[], limitMs: number, isWaitingOnUs: () => boolean = () => false): SmbCommand {
    if (this.pending) throw new Error('An SMB session runs one command at a time.');
    const watchdog = new Watchdog(this.child, limitMs, isWaitingOnUs);
    const result = new Promise<SmbRun>((resolve, reject) => {
      this.pending = { resolve, reject, watchdog };
    });
    if (this.ended)
      this.settle({ output: this.text, exitCode: null, signal: null, timedOut: false, sessionEnded: true });
    else this.child.stdin!.write(`${[...commands, 'echo'].join('\n')}\n`);
    return { result, watchdog };
  }

  /** Stops smbclient at once (a transfer that must not reach its end, a session no longer trusted). */
  kill(): void {
    this.ended = true;
    this.child.kill('SIGKILL');
  }

  /** Ends the session: smbclient logs off when its stdin ends; one that does not is killed. */
  async close(): Promise<void> {
    if (this.pending) this.kill();
    this.ended = true;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), CLOSE_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private received(chunk: string): void {
    this.text += chunk;
    this.pending?.watchdog.touch();
    const end = this.text.startsWith(END_MARK) ? 0 : this.text.indexOf(`\n${END_MARK}`) + 1;
    if (end === 0 && !this.text.startsWith(END_MARK)) return;
    const output = this.text.slice(0, end);
    this.text = this.text.slice(end + END_MARK.length);
    this.settle({ output, exitCode: 0, signal: null, timedOut: false, sessionEnded: false });
  }

  /** smbclient has ended: a command under way ends with it, and the FIFO's folder goes. */
  private end(exitCode: number | null, signal: NodeJS.Signals | null): void {
    this.ended = true;
    this.settle({ output: this.text, exitCode, signal, timedOut: false, sessionEnded: true });
    void rm(path.dirname(this.fifo), { recursive: true, force: true });
  }

  private settle(outcome: SmbRun): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = null;
    pending.watchdog.stop();
    if (this.startFailure) return pending.reject(this.startFailure);
    pending.resolve({ ...outcome, timedOut: pending.watchdog.fired });
  }
}
