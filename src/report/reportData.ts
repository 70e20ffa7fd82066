/**
 * What the report shows, as the engine gathers it from the daemon's own records (never from the
 * store, so a report can still be written while the share is down), and the health verdict the
 * banner gives from it.
 */
import type { Alert, Job } from '../protocol/objects.js';
import { DAY_MS, HOUR_MS } from '../util/clock.js';

/** A free-space measurement of the store (the engine's capacity log). */
export interface CapacityPoint {
  Time: string;
  AvailableBytes: number;
  TotalBytes: number;
}

export interface ReportCertificate {
  Thumbprint: string;
  Subject: string;
  NotAfter: string;
}

export interface ReportData {
  GeneratedTime: string;
  DeploymentId: string;
  Location: string;
  StorePath: string | null;
  BackupFrequencyInHours: number;
  BackupRetentionPeriodInDays: number;
  IsBackupSchedulerEnabled: boolean;
  /** Null when nothing is scheduled (scheduler off, or no store or certificate yet). */
  NextBackupTime: string | null;
  Certificate: ReportCertificate | null;
  /** The newest Succeeded or PartialSucceeded backup, even one older than the retention window. */
  LastGoodBackup: Job | null;
  /** The backup jobs started in the retention window, newest first. */
  Backups: Job[];
  ActiveAlerts: Alert[];
  /** Alerts closed in the retention window, newest first. */
  ClosedAlerts: Alert[];
  /** Free-space samples of the retention window, oldest first. */
  Capacity: CapacityPoint[];
  /** The newest free-space sample, even one older than the window: its age tells whether the store answers. */
  LatestCapacity: CapacityPoint | null;
}

export type Health = 'Healthy' | 'Attention' | 'Failing';

export interface HealthVerdict {
  health: Health;
  /** Why, in a few words each, most serious first; empty when healthy. */
  reasons: string[];
}

/** The certificate-expiry alert opens this many days before the end (engine/configuration.ts). */
const CERT_WARNING_DAYS = 30;

function finishedBackups(data: ReportData): Job[] {
  return data.Backups.filter((job) => job.Outcome !== 'Running' && job.Outcome !== 'Skipped');
}

/**
 * How long the report lets the last good backup (or the newest free-space sample) age before it says
 * so: two backup intervals, one missed backup and the next one's time to run.
 */
export function overdueAfterMs(data: ReportData): number {
  return 2 * data.BackupFrequencyInHours * HOUR_MS;
}

/**
 * Failing: a critical alert is open or the newest backup failed. Attention: a warning alert, a
 * partial newest backup, no good backup for two backup intervals, or no backup yet. Healthy otherwise.
 */
export function healthOf(data: ReportData): HealthVerdict {
  const failing: string[] = [];
  const attention: string[] = [];
  const critical = data.ActiveAlerts.filter((alert) => alert.Severity === 'Critical');
  const warnings = data.ActiveAlerts.filter((alert) => alert.Severity === 'Warning');
  if (critical.length)
    failing.push(`${critical.length} critical alert${critical.length > 1 ? 's' : ''} open`);
  const newest = finishedBackups(data)[0];
  if (newest?.Outcome === 'Failed' || newest?.Outcome === 'Cancelled')
    failing.push(`the newest backup ${newest.Outcome.toLowerCase()}`);
  if (newest?.Outcome === 'PartialSucceeded') attention.push('the newest backup was partial');
  if (warnings.length) attention.push(`${warnings.length} warning${warnings.length > 1 ? 's' : ''} open`);
  const now = Date.parse(data.GeneratedTime);
  if (!data.LastGoodBackup) attention.push('no good backup yet');
  else if (now - Date.parse(data.LastGoodBackup.StartTime) > overdueAfterMs(data))
    attention.push(`no good backup in ${overdueAfterMs(data) / HOUR_MS} h`);
  const certificateLeft = data.Certificate ? Date.parse(data.Certificate.NotAfter) - now : Infinity;
  if (certificateLeft <= 0) failing.push('the encryption certificate expired');
  else if (certificateLeft < CERT_WARNING_DAYS * DAY_MS)
    attention.push('the encryption certificate expires soon');
  if (failing.length) return { health: 'Failing', reasons: [...failing, ...attention] };
  if (attention.length) return { health: 'Attention', reasons: attention };
  return { health: 'Healthy', reasons: [] };
}

/** A finished job's wall-clock duration; null while it runs. */
export function durationSecondsOf(job: Job): number | null {
  return job.EndTime ? Math.max(0, Date.parse(job.EndTime) - Date.parse(job.StartTime)) / 1000 : null;
}
