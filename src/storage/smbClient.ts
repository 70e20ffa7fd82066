/**
 * Starts Samba's `smbclient` for the SMB store: its arguments built from the connection settings,
 * the password passed only through the child's PASSWD environment variable, and a kill timer so that
 * no call outlives a dead server or a stalled transfer.
 *
 * Why smbclient and not libsmbclient in an addon: see docs/storage.md ("SMB engine").
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { isIP } from 'node:net';
import type { SmbLocation, SmbLogon } from './smbPath.js';

/** Everything needed to start smbclient against one share. */
export interface SmbConnection {
  location: SmbLocation;
  logon: SmbLogon | null;
  password: string | null;
  requireEncryption: boolean;
  /**
   * Seconds smbclient waits for one SMB request (`-t`). The kill timer allows a little more, and a
   * stream is killed once it has made no progress for that long.
   */
  timeoutSeconds: number;
  /** The smbclient program; 'smbclient' (from PATH) unless a test or an operator says otherwise. */
  program: string;
}

/** What one smbclient command printed and how it ended. */
export interface SmbRun {
  /** The command's messages (smbclient's stderr between the command and its end mark). */
  output: string;
  exitCode: number | null;
  /** The signal that ended the child, when one did (SIGPIPE: the server's connection broke). */
  signal: NodeJS.Signals | null;
  /** True when the kill timer stopped the child: the server did not answer in time. */
  timedOut: boolean;
  /** True when smbclient ended before the command's end mark: the session is gone. */
  sessionEnded: boolean;
}

/**
 * Kerberos where this host is set up for it: a server named by host name (a service ticket needs
 * one) and a Kerberos credential cache (`KRB5CCNAME`, or the default `/tmp/krb5cc_<uid>`). Anywhere
 * else NTLMv2 — smbclient's "desired" fails outright without a Kerberos setup rather than fall back.
 * Only the NTLMv2 path is tested here (no KDC on this machine).
 */
export function kerberosFor(host: string): 'desired' | 'off' {
  if (isIP(host)) return 'off';
  const cache = process.env.KRB5CCNAME?.replace(/^FILE:/, '') ?? `/tmp/krb5cc_${process.getuid?.() ?? ''}`;
  return process.env.KRB5CCNAME?.startsWith('KEYRING:') || existsSync(cache) ? 'desired' : 'off';
}

/** smbclient's arguments for a connection; holds no secret (the password goes by environment). */
export function smbclientArgs(connection: SmbConnection, extra: string[]): string[] {
  const { location, logon } = connection;
  const ipv6 = isIP(location.host) === 6;
  const args = [
    ipv6 ? `//[${location.host}]/${location.share}` : `//${location.host}/${location.share}`,
    // The system's smb.conf must not change what we negotiate; every option we rely on is below.
    '--configfile=/dev/null',
    '--max-protocol=SMB3',
    '--option=client min protocol=SMB3_00',
    `--use-kerberos=${kerberosFor(location.host)}`,
    `--timeout=${connection.timeoutSeconds}`,
    ...(connection.requireEncryption
      ? ['--client-protection=encrypt']
      : ['--option=client smb encrypt=desired', '--option=client signing=desired']),
  ];
  // An address is given with -I so that smbclient does not try to resolve it as a NetBIOS name.
  if (isIP(location.host)) args.push(`--ip-address=${location.host}`);
  if (location.port !== null) args.push(`--port=${location.port}`);
  // Starting in the store's root makes smbclient stop before any command when the root is missing.
  if (location.folder.length > 0) args.push(`--directory=${location.folder.join('\\')}`);
  if (logon) {
    args.push(`--user=${logon.user}`);
    if (logon.domain) args.push(`--workgroup=${logon.domain}`);
  } else {
    args.push('--no-pass');
  }
  return [...args, ...extra];
}

/**
 * The child's whole environment: nothing inherited that smbclient would read as credentials (USER,
 * PASSWD_FD, PASSWD_FILE), UTC so listed times parse, and PASSWD when there is a password.
 */
export function smbclientEnv(connection: SmbConnection): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC', LC_ALL: 'C' };
  if (process.env.HOME) env.HOME = process.env.HOME;
  if (connection.password !== null) env.PASSWD = connection.password;
  return env;
}

/**
 * Double-quotes a path relative to the store's root for smbclient's command language (the names were
 * checked by nameProblem: no '"', no ';').
 */
export function quoteRemote(components: string[]): string {
  return `"${components.join('\\')}"`;
}

/**
 * Starts an interactive smbclient: no `--command`, so it reads its commands from stdin, one a line,
 * until stdin ends. `-E` sends every message to stderr, in order, so that one stream carries the
 * answers of the commands and stdout carries nothing.
 */
export function startSmbclient(
  connection: SmbConnection,
  options: { debugLevel?: number } = {},
): ChildProcess {
  const extra = [...(options.debugLevel ? [`--debuglevel=${options.debugLevel}`] : []), '-E'];
  // smbclient reads stdin with stdio's buffered fgets after a select(): a second command already in
  // its buffer would wait there until more input came. Unbuffered (coreutils' stdbuf), it reads one
  // line at a time and leaves the rest for select() to see.
  return spawn('stdbuf', ['-i0', connection.program, ...smbclientArgs(connection, extra)], {
    env: smbclientEnv(connection),
    stdio: ['pipe', 'ignore', 'pipe'],
  });
}

/**
 * Kills a child that made no progress for `limitMs`. `touch()` records progress; a caller whose
 * child is idle for a good reason (its consumer is not reading) passes `isWaitingOnUs`.
 */
export class Watchdog {
  fired = false;
  private last = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly child: ChildProcess,
    private readonly limitMs: number,
    private readonly isWaitingOnUs: () => boolean = () => false,
  ) {
    this.timer = setInterval(() => this.check(), Math.min(1000, limitMs));
    this.timer.unref();
  }

  touch(): void {
    this.last = Date.now();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    if (this.isWaitingOnUs()) this.touch();
    if (Date.now() - this.last < this.limitMs || this.child.exitCode !== null) return;
    this.fired = true;
    this.stop();
    this.child.kill('SIGKILL');
  }
}
