/**
 * The Prometheus text exposition format of the metrics file, built with prom-client's registry (it
 * writes HELP and TYPE, escapes label values and help text, and never adds sample timestamps, as the
 * textfile collector requires). What the figures are is decided by the engine (src/engine/metrics.ts).
 */
import { Gauge, Registry } from 'prom-client';

export type AlertSeverity = 'Critical' | 'Warning';

/** The newest backup that ended (Succeeded, PartialSucceeded, Failed or Cancelled). */
export interface BackupFigures {
  roles: { name: string; succeeded: boolean }[];
  durationSeconds: number;
  storedBytes: number;
}

/** Every figure of the file; null leaves its series out (there is nothing to say yet). */
export interface MetricsSnapshot {
  location: string;
  /** End of the newest Succeeded backup, Unix seconds; 0 when there has been none. */
  lastSuccessSeconds: number;
  lastBackup: BackupFigures | null;
  storeFreeBytes: number | null;
  activeAlerts: Record<AlertSeverity, number>;
  certificateExpirySeconds: number | null;
  schedulerEnabled: boolean;
}

/** The name of the metric written last: a reader that finds it has read the whole file. */
export const LAST_METRIC = 'azsbackup_scheduler_enabled';

export async function renderMetrics(snapshot: MetricsSnapshot): Promise<string> {
  const registry = new Registry();
  registry.setDefaultLabels({ location: snapshot.location });
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });

  gauge(
    'azsbackup_last_success_timestamp_seconds',
    'End time of the newest backup that stored every role (Succeeded), in Unix seconds; 0 when none has.',
  ).set(snapshot.lastSuccessSeconds);
  if (snapshot.lastBackup) setBackupFigures(gauge, snapshot.lastBackup);
  if (snapshot.storeFreeBytes !== null) {
    gauge('azsbackup_store_free_bytes', 'Free space on the backup store at its last measurement.').set(
      snapshot.storeFreeBytes,
    );
  }
  const alerts = gauge('azsbackup_active_alerts', 'Active (open) alerts by severity.', ['severity']);
  for (const severity of ['Critical', 'Warning'] as const)
    alerts.set({ severity }, snapshot.activeAlerts[severity]);
  if (snapshot.certificateExpirySeconds !== null) {
    gauge(
      'azsbackup_encryption_cert_expiry_timestamp_seconds',
      'Expiry (NotAfter) of the encryption certificate, in Unix seconds.',
    ).set(snapshot.certificateExpirySeconds);
  }
  gauge(LAST_METRIC, '1 when scheduled backups are switched on, 0 when they are off.').set(
    snapshot.schedulerEnabled ? 1 : 0,
  );
  return registry.metrics();
}

function setBackupFigures(
  gauge: (name: string, help: string, labels?: string[]) => Gauge,
  backup: BackupFigures,
) {
  const status = gauge(
    'azsbackup_last_backup_status',
    'Per role, 1 when the newest backup stored the role, 0 when the role failed in it.',
    ['role'],
  );
  for (const role of backup.roles) status.set({ role: role.name }, role.succeeded ? 1 : 0);
  gauge('azsbackup_backup_duration_seconds', 'How long the newest backup took, in seconds.').set(
    backup.durationSeconds,
  );
  gauge(
    'azsbackup_backup_stored_bytes',
    'Bytes the newest backup stored on the store (compressed and encrypted); 0 when it stored nothing.',
  ).set(backup.storedBytes);
}
