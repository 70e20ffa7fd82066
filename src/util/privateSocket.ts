/**
 * The daemon's socket carries the token and the secrets (store and .pfx passwords), so it must live
 * where no other local user can put a socket of their own first, and both ends check that before
 * trusting it: the folder is a real folder (not a link) owned by this user with no group or other
 * access, and the socket is a socket owned by this user with mode 0600 or stricter. The checks lstat
 * the path (a link is never followed). Windows named pipes are guarded differently
 * (docs/security.md); these checks apply to Unix sockets only.
 */
import type { Stats } from 'node:fs';
import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { AzsError } from '../protocol/errors.js';
import { isWindows } from './platform.js';

const GROUP_OR_OTHER = 0o077;
const EXECUTE_OR_GROUP_OR_OTHER = 0o177;

/**
 * The daemon's side: creates the socket's folder with mode 0700 unless it exists — only its last
 * component, so that nothing on the way is created for another user to own — then checks it.
 */
export async function preparePrivateFolder(folder: string): Promise<void> {
  if (isWindows) return;
  try {
    await mkdir(folder, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new AzsError(
        'PathNotFound',
        `The folder for the daemon's socket, '${folder}', cannot be created: '${path.dirname(folder)}' does not exist. ` +
          'Create it (mode 0700), or set AZSBACKUP_SOCKET to a socket path in a folder that exists.',
        { parameter: 'AZSBACKUP_SOCKET', target: folder },
      );
    if (code !== 'EEXIST') throw error;
  }
  await assertPrivateFolder(folder);
}

/**
 * The client's side, before the token or any secret is sent: the socket and its folder are this
 * user's alone. Fails with the file system's ENOENT when either is missing (nothing listens there).
 */
export async function assertPrivateSocket(socket: string): Promise<void> {
  if (isWindows) return;
  await assertPrivateFolder(path.dirname(socket));
  const stats = await lstat(socket);
  const problem = !stats.isSocket()
    ? 'is not a socket'
    : (foreignOwner(stats) ??
      ((stats.mode & EXECUTE_OR_GROUP_OR_OTHER) !== 0
        ? `has mode ${modeOf(stats)}; the daemon's socket has 0600`
        : undefined));
  if (problem)
    throw new AzsError(
      'EndpointNotPrivate',
      `The daemon's socket '${socket}' ${problem}, so it may not be this deployment's daemon: nothing was sent to it. ` +
        'Stop whatever listens there, remove the file, and run the command again (the daemon is then started anew).',
      { parameter: 'AZSBACKUP_SOCKET', target: socket },
    );
}

/** A real folder owned by this user that no other user may enter; refuses anything else. */
async function assertPrivateFolder(folder: string): Promise<void> {
  const stats = await lstat(folder);
  const problem = !stats.isDirectory()
    ? 'is not a folder but a link or another kind of file'
    : (foreignOwner(stats) ??
      ((stats.mode & GROUP_OR_OTHER) !== 0
        ? `has mode ${modeOf(stats)}, which lets other users in`
        : undefined));
  if (problem)
    throw new AzsError(
      'EndpointNotPrivate',
      `The folder of the daemon's socket, '${folder}', ${problem}. Another local user could receive the token and ` +
        `secrets there, so it is not used. ${fixFor(stats, folder)} Or choose another place: set AZSBACKUP_SOCKET to a ` +
        "socket path in a folder only you can enter, or use a shorter state folder so that the socket fits in '<state>/run'.",
      { parameter: 'AZSBACKUP_SOCKET', target: folder },
    );
}

function foreignOwner(stats: Stats): string | undefined {
  const uid = process.geteuid?.();
  return stats.uid === uid ? undefined : `belongs to uid ${stats.uid}, not to this user (uid ${uid})`;
}

function modeOf(stats: Stats): string {
  return (stats.mode & 0o7777).toString(8).padStart(4, '0');
}

function fixFor(stats: Stats, folder: string): string {
  if (stats.isDirectory() && stats.uid === process.geteuid?.()) return `Run 'chmod 700 ${folder}'.`;
  return `Find out who made it, then remove it (as root if another user owns it).`;
}
