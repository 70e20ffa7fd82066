/**
 * The operating system's own log, which the daemon's lines also go to when it runs as a service
 * (`serve --journal`): a seam between the daemon's logger and the platform, so each platform adds
 * one transport and redaction (log.ts) still applies to it.
 *
 * - Linux under systemd: the journal reads the service's stderr, and a line that starts with an
 *   sd-daemon prefix (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug; sd-daemon(3)) keeps that
 *   priority, so `journalctl -p warning` shows the daemon's warnings and errors.
 * - Windows: the Application event log, source "AzureStackBackup", is designed in docs/platforms.md
 *   but not written: it cannot be tested on the machines this project is tested on, and an untested
 *   path would only pretend to work. Asking for it fails with a clear message instead.
 */
import winston from 'winston';
import { isWindows } from './platform.js';

export interface SystemLog {
  /** A transport that writes each (already redacted) log entry where the system log takes it. */
  transport(): winston.transport;
}

/** sd-daemon(3) priorities of winston's levels. */
export const JOURNAL_PRIORITY: Readonly<Record<string, number>> = { error: 3, warn: 4, info: 6, debug: 7 };

/** The JSON line the logger made (winston keeps it under this symbol), behind its priority prefix. */
const MESSAGE = Symbol.for('message');
const journalLine = winston.format.printf(
  (info) => `<${JOURNAL_PRIORITY[info.level] ?? JOURNAL_PRIORITY.info}>${String(info[MESSAGE])}`,
);

export const journal: SystemLog = {
  transport: () => new winston.transports.Stream({ stream: process.stderr, format: journalLine }),
};

/** The system log of this platform; throws where none is written yet (Windows, see above). */
export function platformSystemLog(): SystemLog {
  if (isWindows)
    throw new Error(
      '--journal is for systemd on Linux. On Windows the daemon logs to daemon.log in its state folder; the Windows Event Log is designed (docs/platforms.md) but not available yet.',
    );
  return journal;
}
