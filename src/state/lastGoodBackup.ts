/**
 * last-good-backup.json: which jobs are the newest good backups, so that LastBackupTime is known
 * without reading every job file, and the history's trimming never drops the jobs the metrics and
 * the report show as the last successful backup.
 */
import type { Job } from '../protocol/objects.js';

/** A job by the two fields that name its file under jobs/. */
export interface JobRef {
  JobId: string;
  StartTime: string;
}

export interface LastGoodBackups {
  /** The newest backup that ended Succeeded or PartialSucceeded: its StartTime is LastBackupTime. */
  Good: JobRef | null;
  /** The newest backup that ended Succeeded (the metrics' last success). */
  Succeeded: JobRef | null;
}

export const NO_GOOD_BACKUP: LastGoodBackups = { Good: null, Succeeded: null };

const refOf = ({ JobId, StartTime }: Job): JobRef => ({ JobId, StartTime });

/** Of two jobs the one that started later; of one start time the one already known (listed first). */
function newer(known: JobRef | null, job: Job): JobRef {
  return known && known.StartTime >= job.StartTime ? known : refOf(job);
}

/** The marks after `job` was saved: the same object when it is no good backup. */
export function advance(marks: LastGoodBackups, job: Job): LastGoodBackups {
  if (job.Kind !== 'Backup' || (job.Outcome !== 'Succeeded' && job.Outcome !== 'PartialSucceeded'))
    return marks;
  return {
    Good: newer(marks.Good, job),
    Succeeded: job.Outcome === 'Succeeded' ? newer(marks.Succeeded, job) : marks.Succeeded,
  };
}

/** The marks of a history listed newest first, for a state folder written before they were kept. */
export function marksOf(jobs: Job[]): LastGoodBackups {
  return jobs.reduce(advance, NO_GOOD_BACKUP);
}
