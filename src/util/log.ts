/**
 * The daemon's log: winston, JSON lines, rotated by size. A redaction step removes any field whose
 * name says it is a secret, so a careless log call cannot leak one.
 */
import winston from 'winston';
import type { SystemLog } from './systemLog.js';

export type Logger = Pick<winston.Logger, 'info' | 'warn' | 'error' | 'debug'>;

const SECRET_KEY = /pass(word)?|token|secret|private|pfx|key$/i;
const REDACTED = '[redacted]';

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([key, item]) => [
      key,
      SECRET_KEY.test(key) ? REDACTED : redact(item, depth + 1),
    ]),
  );
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_KEY.test(key)) info[key] = REDACTED;
    else info[key] = redact(info[key]);
  }
  return info;
});

/**
 * The daemon's logger: daemon.log in the state folder (state/layout.ts logFile; kept to five files of
 * 10 MiB), and the system log too when one is given.
 */
export function createFileLogger(logFile: string, systemLog?: SystemLog): winston.Logger {
  return winston.createLogger({
    level: process.env.AZSBACKUP_LOG_LEVEL ?? 'info',
    format: winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json()),
    transports: [
      new winston.transports.File({
        filename: logFile,
        maxsize: 10 * 1024 * 1024,
        maxFiles: 5,
        tailable: true,
        // Appended to: given `options`, winston opens the file as fs does by default, truncating it,
        // and a restart would lose the log of what the stopped (or crashed) daemon did.
        options: { flags: 'a', mode: 0o600 },
      }),
      ...(systemLog ? [systemLog.transport()] : []),
    ],
  });
}

/** A logger that drops everything: for unit tests of one module. */
export const silentLogger: Logger = winston.createLogger({ silent: true });
