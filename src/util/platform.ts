/**
 * The platform seam: where a deployment's state lives and how its daemon is reached. Windows uses a
 * per-user folder under %LOCALAPPDATA% and a named pipe; elsewhere an XDG state folder and a Unix
 * domain socket. (Only the Linux side is tested on our machines; see docs/platforms.md.)
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const isWindows = process.platform === 'win32';

/** The state folder: --state-dir, else AZSBACKUP_HOME, else the per-user default. */
export function resolveStateDir(explicit?: string): string {
  const chosen = explicit ?? process.env.AZSBACKUP_HOME;
  if (chosen) return path.resolve(chosen);
  if (isWindows) {
    const base = process.env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local');
    return path.join(base, 'AzureStackBackup');
  }
  const base = process.env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'azsbackup');
}

/** Unix socket paths are limited to 107 bytes on Linux (103 on macOS). */
const MAX_SOCKET_PATH = process.platform === 'darwin' ? 103 : 107;

/**
 * The daemon's endpoint for a state folder: `<state>/run/daemon.sock`, or, when that path is too long
 * for a socket, a place no other local user can take first: `$XDG_RUNTIME_DIR/azsbackup-<hash>.sock`
 * (the login session's private folder) when it is set, else `<tmp>/azsbackup-<uid>/<hash>.sock`,
 * whose folder the daemon creates with mode 0700 and both ends check (src/util/privateSocket.ts).
 * On Windows a named pipe named after the same hash.
 */
export function defaultEndpoint(stateDir: string): string {
  const hash = createHash('sha256').update(stateDir).digest('hex').slice(0, 16);
  if (isWindows) return `\\\\.\\pipe\\azsbackup-${hash}`;
  const inState = path.join(stateDir, 'run', 'daemon.sock');
  if (Buffer.byteLength(inState) <= MAX_SOCKET_PATH) return inState;
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime)) return path.join(runtime, `azsbackup-${hash}.sock`);
  return path.join(os.tmpdir(), `azsbackup-${os.userInfo().uid}`, `${hash}.sock`);
}

/** True when the endpoint is a filesystem socket whose folder we must create and protect. */
export function endpointIsFile(endpoint: string): boolean {
  return !endpoint.startsWith('\\\\.\\pipe\\');
}

/**
 * Whether a process runs. A killed daemon whose parent never reaps it stays a zombie, which still
 * answers signal 0; on Linux its /proc state tells it apart.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
