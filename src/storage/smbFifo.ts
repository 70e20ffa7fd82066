/**
 * Our end of a session's FIFO (Linux), as a non-blocking stream: no open, read or write ever waits
 * in libuv's thread pool, so a stalled smbclient or server holds no thread of the daemon.
 *
 * smbclient opens its end of the FIFO only once the remote file is open, and not at all when that
 * fails; so a writer waits (polling: a non-blocking open fails with ENXIO until a reader is there)
 * until smbclient reads or the command has ended, and a reader holds a write end of its own until
 * smbclient has written or the command has ended (a FIFO with no writer reads as at its end).
 */
import { close, constants, open } from 'node:fs';
import { Socket } from 'node:net';
import { promisify } from 'node:util';

const openFile = promisify(open);
const closeFile = promisify(close);
const FIRST_POLL_MS = 1;
const LAST_POLL_MS = 20;

/** The FIFO's write end once smbclient reads it, or null when `commandEnded` came first. */
export async function fifoWriter(fifo: string, commandEnded: Promise<unknown>): Promise<Socket | null> {
  let ended = false;
  void commandEnded.finally(() => (ended = true));
  for (let delayMs = FIRST_POLL_MS; !ended; delayMs = Math.min(delayMs * 2, LAST_POLL_MS)) {
    const fd = await openFile(fifo, constants.O_WRONLY | constants.O_NONBLOCK).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENXIO') throw error;
        return null;
      },
    );
    if (fd !== null) return new Socket({ fd, readable: false, writable: true });
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
  return null;
}

/**
 * The FIFO's read end, to open before smbclient is told to write into it. The stream ends once
 * smbclient has closed its end; call `commandEnded` when the command has ended, so that it also ends
 * when smbclient never opened it.
 */
export async function fifoReader(fifo: string): Promise<{ stream: Socket; commandEnded: () => void }> {
  const fd = await openFile(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const placeholder = await openFile(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  const stream = new Socket({ fd, readable: true, writable: false });
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    void closeFile(placeholder);
  };
  stream.once('data', release);
  stream.once('close', release);
  return { stream, commandEnded: release };
}
