/**
 * A real Samba server for tests: its own smbd, smb.conf, password database and folders under one temp
 * folder, bound to loopback on a free port, with one Unix + Samba user of its own. Shares can be
 * read-only or sit on a small tmpfs (for "share full"); global options set signing, encryption and
 * protocol bounds. smbd runs in its own session (setsid: it signals its whole process group when it
 * stops) and is stopped by that group's id; dispose() also removes the user, mounts and folders.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ShareSpec {
  name: string;
  readOnly?: boolean;
  /** Put the share on a tmpfs of this many MiB (the "share full" case). */
  sizeMiB?: number;
  /** More `name = value` lines for this share. */
  options?: Record<string, string>;
}

export interface SambaOptions {
  shares?: ShareSpec[];
  /** More `[global]` lines, e.g. `{ 'server smb encrypt': 'required' }`. */
  global?: Record<string, string>;
}

export type Protection = 'encrypt' | 'sign';

const START_TIMEOUT_MS = 20_000;

export class SambaServer {
  readonly user = `azsb${randomBytes(4).toString('hex')}`;
  /** Characters a shell or smbclient's command language would trip on: it must travel untouched. */
  readonly password = `P@ss w%rd;"'${randomBytes(4).toString('hex')}`;
  private process: ChildProcess | null = null;
  private readonly mounts: string[] = [];

  private constructor(
    readonly root: string,
    readonly port: number,
    private readonly shares: ShareSpec[],
  ) {}

  /** Starts a server with the given shares (default: one writable share named `backup`). */
  static async start(options: SambaOptions = {}): Promise<SambaServer> {
    requireSambaPrograms();
    const root = await mkdtemp(path.join(os.tmpdir(), 'azs-samba-'));
    const shares = options.shares ?? [{ name: 'backup' }];
    const server = new SambaServer(root, await freePort(), shares);
    process.once('exit', server.cleanUpAtExit);
    try {
      await server.prepare(options.global ?? {});
      await server.launch();
      return server;
    } catch (error) {
      await server.dispose();
      throw error;
    }
  }

  get conf(): string {
    return path.join(this.root, 'smb.conf');
  }

  /** The folder on this machine behind a share. */
  sharePath(share: string): string {
    return path.join(this.root, 'shares', share);
  }

  /** The store path an operator would type: `\\127.0.0.1:<port>\<share>\<folder...>`. */
  uncPath(share: string, ...folder: string[]): string {
    return ['', '', `127.0.0.1:${this.port}`, share, ...folder].join('\\');
  }

  /**
   * Plain smbclient against the `backup` share with the given protection, the password by
   * environment as the store passes it: the reference the SMB measurements compare with.
   */
  smbclient(protection: Protection, command: string): Promise<void> {
    const args = [...this.smbclientArgs(protection), '-c', command];
    return new Promise((resolve, reject) => {
      const child = spawn('smbclient', args, {
        env: { PATH: process.env.PATH, PASSWD: this.password },
        stdio: 'ignore',
      });
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`smbclient '${command}' exited ${code}`)),
      );
    });
  }

  /**
   * smbclient's arguments for the `backup` share with the given protection, before its `-c` command;
   * the password goes in its environment as PASSWD (see smbclient()).
   */
  smbclientArgs(protection: Protection): string[] {
    return [
      '//127.0.0.1/backup',
      `--port=${this.port}`,
      '--configfile=/dev/null',
      '--max-protocol=SMB3',
      `--client-protection=${protection}`,
      `--user=${this.user}`,
    ];
  }

  /** Stops smbd and everything it forked; the server can be started again with launch(). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    signalGroup(child, signal);
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    // smbd's per-connection children are in the same group; make sure none outlives the parent.
    signalGroup(child, 'SIGKILL');
    this.process = null;
  }

  /** Stops every smbd process in its tracks: connections stay open and nothing answers. */
  freeze(): void {
    if (this.process) signalGroup(this.process, 'SIGSTOP');
  }

  thaw(): void {
    if (this.process) signalGroup(this.process, 'SIGCONT');
  }

  /** Starts smbd (again) on the same port and waits until it accepts connections. */
  async launch(): Promise<void> {
    const log = openSync(path.join(this.root, 'smbd.out'), 'a');
    const child = spawn('smbd', ['--foreground', '--no-process-group', '-s', this.conf], {
      detached: true, // setsid(2): smbd and its children get a process group of their own
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    this.process = child;
    await this.waitUntilListening(child);
  }

  async dispose(): Promise<void> {
    process.off('exit', this.cleanUpAtExit);
    await this.stop('SIGKILL');
    for (const mount of this.mounts) await run('umount', ['-l', mount]).catch(() => undefined);
    await run('userdel', [this.user]).catch(() => undefined);
    await rm(this.root, { recursive: true, force: true });
  }

  /**
   * If the test process ends without dispose() (an uncaught error), nothing may outlive it: 'exit'
   * handlers must be synchronous, hence the *Sync calls.
   */
  private readonly cleanUpAtExit = (): void => {
    if (this.process) signalGroup(this.process, 'SIGKILL');
    for (const mount of this.mounts) spawnSync('umount', ['-l', mount]);
    spawnSync('userdel', [this.user]);
    rmSync(this.root, { recursive: true, force: true });
  };

  private async prepare(global: Record<string, string>): Promise<void> {
    for (const folder of ['lock', 'state', 'cache', 'pid', 'private', 'ncalrpc', 'log', 'shares']) {
      await mkdir(path.join(this.root, folder));
    }
    // mkdtemp makes 0700 folders; the share's user must be able to walk down to the share.
    await chmod(this.root, 0o755);
    await chmod(path.join(this.root, 'shares'), 0o755);
    await writeFile(this.conf, this.smbConf(global));
    await addUnixUser(this.user);
    for (const share of this.shares) await this.makeShareFolder(share);
    await addSambaUser(this.conf, this.user, this.password);
  }

  private async makeShareFolder(share: ShareSpec): Promise<void> {
    const folder = this.sharePath(share.name);
    await mkdir(folder, { mode: 0o755 });
    if (share.sizeMiB) {
      await run('mount', ['-t', 'tmpfs', '-o', `size=${share.sizeMiB}m,mode=755`, 'tmpfs', folder]);
      this.mounts.push(folder);
    }
    const { stdout } = await run('id', ['-u', this.user]);
    await chown(folder, Number(stdout.trim()), 0);
  }

  private smbConf(global: Record<string, string>): string {
    const dir = (name: string) => path.join(this.root, name);
    const lines = [
      '[global]',
      'interfaces = lo',
      'bind interfaces only = yes',
      `smb ports = ${this.port}`,
      'disable netbios = yes',
      'server role = standalone server',
      `lock directory = ${dir('lock')}`,
      `state directory = ${dir('state')}`,
      `cache directory = ${dir('cache')}`,
      `pid directory = ${dir('pid')}`,
      `private dir = ${dir('private')}`,
      `ncalrpc dir = ${dir('ncalrpc')}`,
      `passdb backend = tdbsam:${dir('private')}/passdb.tdb`,
      `log file = ${dir('log')}/log.%m`,
      'log level = 1',
      'load printers = no',
      'printing = bsd',
      'printcap name = /dev/null',
      'disable spoolss = yes',
      'map to guest = never',
      ...entries(global),
    ];
    for (const share of this.shares) {
      lines.push(
        `[${share.name}]`,
        `path = ${this.sharePath(share.name)}`,
        `read only = ${share.readOnly ? 'yes' : 'no'}`,
        `valid users = ${this.user}`,
        ...entries(share.options ?? {}),
      );
    }
    return `${lines.join('\n')}\n`;
  }

  private async waitUntilListening(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (await accepts(this.port)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const log = readFileSync(path.join(this.root, 'smbd.out'), 'utf8').slice(-2000);
    throw new Error(`smbd did not start listening on port ${this.port}:\n${log}`);
  }
}

function entries(options: Record<string, string>): string[] {
  return Object.entries(options).map(([name, value]) => `${name} = ${value}`);
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // the group is already gone
  }
}

/** useradd takes a lock on /etc/passwd; parallel test files may collide, so retry a few times. */
async function addUnixUser(user: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await run('useradd', ['-M', '-N', '-s', '/usr/sbin/nologin', user]);
      return;
    } catch (error) {
      if (attempt >= 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

const SAMBA_PROGRAMS = ['smbd', 'smbpasswd', 'smbclient'];

/** Fails at once, naming what is missing, rather than one spawn ENOENT per test. */
function requireSambaPrograms(): void {
  const folders = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const missing = SAMBA_PROGRAMS.filter(
    (program) => !folders.some((folder) => existsSync(path.join(folder, program))),
  );
  if (missing.length) {
    throw new Error(
      `Samba is not installed (${missing.join(', ')} not on PATH): run 'bash scripts/install-test-deps.sh' ` +
        "(it runs 'apt-get install samba smbclient')",
    );
  }
}

/** smbpasswd reads the password twice from stdin (-s): it never appears on a command line. */
async function addSambaUser(conf: string, user: string, password: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('smbpasswd', ['-s', '-c', conf, '-a', user], { stdio: ['pipe', 'ignore', 'pipe'] });
    let errors = '';
    child.stderr.on('data', (chunk) => (errors += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`smbpasswd failed: ${errors}`))));
    child.stdin.end(`${password}\n${password}\n`);
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}
