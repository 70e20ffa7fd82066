/**
 * An event as one RFC 5424 syslog message:
 * `<PRI>1 TIMESTAMP HOSTNAME azsbackup PROCID MSGID [azsbackup@32473 …] BOM MSG`.
 * Written here rather than taken from a package: it is a few lines, and the packages that send
 * syslog either speak the older RFC 3164 by default or leave structured data to the caller.
 * 32473 is the private enterprise number RFC 5612 reserves for documentation; an SD-ID with `@`
 * names the sender's own parameters, which receivers keep without needing to know them.
 */
import type { EngineEvent } from '../protocol/events.js';

/** RFC 5424 severities (section 6.2.1). */
export const SEVERITY = {
  crit: 2,
  err: 3,
  warning: 4,
  notice: 5,
  info: 6,
} as const;

export type SyslogSeverity = (typeof SEVERITY)[keyof typeof SEVERITY];

/** "system daemons": the daemon is one. */
const FACILITY_DAEMON = 3;
const APP_NAME = 'azsbackup';
export const SD_ID = 'azsbackup@32473';
/** Marks MSG as UTF-8 (RFC 5424 section 6.4): titles and role names may hold any character. */
const BOM = '\uFEFF';
/** RFC 5426 asks receivers to take 2048 octets over UDP; longer datagrams may be dropped. */
export const MAX_MESSAGE_BYTES = 2048;

export interface SyslogOrigin {
  hostname: string;
  pid: number;
}

export function severityOf(event: EngineEvent): SyslogSeverity {
  switch (event.type) {
    case 'alert.opened':
      return event.data.Severity === 'Critical' ? SEVERITY.crit : SEVERITY.warning;
    case 'alert.closed':
      return SEVERITY.notice;
    case 'notification.test':
    case 'backup.started':
      return SEVERITY.info;
    default:
      return {
        Succeeded: SEVERITY.info,
        PartialSucceeded: SEVERITY.warning,
        Failed: SEVERITY.err,
        Cancelled: SEVERITY.err,
        Skipped: SEVERITY.notice,
        Running: SEVERITY.info,
      }[event.data.Outcome];
  }
}

/** A PARAM-VALUE: `"`, `\` and `]` escaped with a backslash (RFC 5424 section 6.3.3). */
export function escapeParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (character) => `\\${character}`);
}

/** A header field: printable US-ASCII without spaces, at most `max` characters, or the NILVALUE. */
function headerField(value: string, max: number): string {
  const printable = value.replace(/[^\x21-\x7e]/g, '-').slice(0, max);
  return printable || '-';
}

/** The structured data's parameters: what a receiver filters on (never a secret, never a URL). */
function parametersOf(event: EngineEvent): Record<string, string | null> {
  const origin = { location: event.data.Location, deploymentId: event.data.DeploymentId };
  switch (event.type) {
    case 'alert.opened':
    case 'alert.closed':
      return {
        ...origin,
        alertId: event.data.AlertId,
        severity: event.data.Severity,
        state: event.data.State,
        backupId: event.data.BackupId,
      };
    case 'notification.test':
      return origin;
    default:
      return {
        ...origin,
        jobId: event.data.JobId,
        kind: event.data.Kind,
        outcome: event.data.Outcome,
        backupId: event.data.BackupId,
        automatic: String(event.data.IsAutomatic),
        durationSeconds: event.data.DurationSeconds === null ? null : String(event.data.DurationSeconds),
      };
  }
}

function structuredData(event: EngineEvent): string {
  const parameters = Object.entries(parametersOf(event))
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .map(([name, value]) => ` ${name}="${escapeParamValue(value)}"`)
    .join('');
  return `[${SD_ID}${parameters}]`;
}

/** One line a person reads: the alert's title and remediation, or the job's outcome and error. */
export function summaryOf(event: EngineEvent): string {
  switch (event.type) {
    case 'alert.opened':
      return `${event.data.Severity} alert: ${event.data.Title}. ${event.data.Remediation}`;
    case 'alert.closed':
      return `Alert closed: ${event.data.Title}.`;
    case 'notification.test':
      return event.data.Message;
    default: {
      const job = event.data;
      const what = `${job.Kind}${job.BackupId ? ` ${job.BackupId}` : ''}`;
      if (event.type === 'backup.started') return `${what} started.`;
      const took = job.DurationSeconds === null ? '' : ` in ${secondsText(job.DurationSeconds)} s`;
      return `${what} ${job.Outcome}${took}.${job.ErrorMessage ? ` ${job.ErrorMessage}` : ''}`;
    }
  }
}

/** Tenths below ten seconds, so a quick job does not read "in 0 s". */
function secondsText(seconds: number): string {
  return seconds < 10 ? seconds.toFixed(1) : String(Math.round(seconds));
}

/** Cuts a string to at most `maxBytes` of UTF-8 without splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  // A cut inside a character leaves U+FFFD at the end, which is dropped.
  return bytes
    .subarray(0, maxBytes)
    .toString('utf8')
    .replace(/\uFFFD+$/, '');
}

export function formatSyslogMessage(event: EngineEvent, origin: SyslogOrigin): string {
  const header = [
    `<${FACILITY_DAEMON * 8 + severityOf(event)}>1`,
    event.timestamp,
    headerField(origin.hostname, 255),
    APP_NAME,
    String(origin.pid),
    headerField(event.type, 32),
  ].join(' ');
  const head = `${header} ${structuredData(event)} ${BOM}`;
  const text = summaryOf(event).replace(/\s+/g, ' ').trim();
  return head + truncateUtf8(text, MAX_MESSAGE_BYTES - Buffer.byteLength(head, 'utf8'));
}
