/**
 * What every job (backup, restore, prune) shares: its record in the job history, the handle its
 * caller holds, and the progress events it reports while it runs.
 */
import type { RoleStatus } from '../protocol/objects.js';
import type { JobInput, JobRecord } from '../state/jobHistory.js';

/** Where a job stands with one role; the caller decides how to show it. */
export interface JobProgress {
  role: string;
  /** A backup's role running, stored or failed; a restore's role being read, verified and written. */
  phase: 'backingUp' | 'backedUp' | 'backupFailed' | 'restoring';
  /** The role's bytes read so far: source bytes (a backup), stored bytes (a restore). */
  bytes: number;
  /** The role's size when known beforehand; null otherwise. */
  totalBytes: number | null;
  /** Roles finished so far, of `total`. */
  done: number;
  total: number;
}

export type ProgressListener = (event: JobProgress) => void;

/** How a caller follows one run of a job. */
export interface JobRunOptions {
  progress?: ProgressListener;
  /** Aborting cancels the job (the waiting caller went away). */
  signal?: AbortSignal;
}

/**
 * A started job: `accepted` settles once the request is checked and the job under way (a caller
 * that does not wait may go then), `done` when the job has ended. A request refused before the job
 * starts rejects both.
 */
export interface JobHandle<Accepted, Done> {
  accepted: Promise<Accepted>;
  done: Promise<Done>;
}

export function jobHandle<Accepted, Done>(
  accepted: Promise<Accepted>,
  done: Promise<Done>,
): JobHandle<Accepted, Done> {
  // A caller awaits one of the two; the other's rejection is the same failure, not an unhandled one.
  accepted.catch(() => undefined);
  done.catch(() => undefined);
  return { accepted, done };
}

/** A new job record: Running, or ended at once when `ended` is given (a prune, a skipped slot). */
export function jobRecord(start: {
  kind: JobRecord['Kind'];
  jobId: string;
  backupId: string | null;
  isAutomatic: boolean;
  startTime: Date;
  roles: RoleStatus[];
  ended?: { at: Date; outcome: JobRecord['Outcome']; errorMessage: string | null };
}): JobInput {
  return {
    JobId: start.jobId,
    Kind: start.kind,
    BackupId: start.backupId,
    IsAutomatic: start.isAutomatic,
    StartTime: start.startTime.toISOString(),
    EndTime: start.ended?.at.toISOString() ?? null,
    Outcome: start.ended?.outcome ?? 'Running',
    ErrorMessage: start.ended?.errorMessage ?? null,
    Roles: start.roles,
  };
}
