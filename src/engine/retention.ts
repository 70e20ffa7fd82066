/**
 * Retention as a pure decision (STYLE.md, after restic's snapshot policy): given the backups, the
 * policy and the time, which to keep and which to remove, with the reason for each. Backups older
 * than the retention period go, except the newest one that is ready for cloud recovery.
 */
import { DAY_MS } from '../util/clock.js';

export interface RetentionCandidate {
  BackupId: string;
  CreatedDateTime: string;
  IsCloudRecoveryReady: boolean;
}

export interface RetentionDecision<T extends RetentionCandidate> {
  keep: Array<{ backup: T; reason: string }>;
  remove: Array<{ backup: T; reason: string }>;
}

export function applyRetention<T extends RetentionCandidate>(
  backups: T[],
  retentionDays: number,
  now: Date,
): RetentionDecision<T> {
  const cutoff = now.getTime() - retentionDays * DAY_MS;
  const newestReady = backups
    .filter((backup) => backup.IsCloudRecoveryReady)
    .reduce<T | null>(
      (newest, backup) => (!newest || backup.CreatedDateTime > newest.CreatedDateTime ? backup : newest),
      null,
    );
  const decision: RetentionDecision<T> = { keep: [], remove: [] };
  for (const backup of backups) {
    if (Date.parse(backup.CreatedDateTime) >= cutoff) {
      decision.keep.push({ backup, reason: `within the ${retentionDays}-day retention period` });
    } else if (backup === newestReady) {
      decision.keep.push({ backup, reason: 'the newest backup ready for cloud recovery is never deleted' });
    } else {
      decision.remove.push({ backup, reason: `older than the ${retentionDays}-day retention period` });
    }
  }
  return decision;
}
