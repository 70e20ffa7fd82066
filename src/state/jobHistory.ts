/**
 * The job history: one small JSON file per job under jobs/, written atomically at start and at the
 * end. A job still marked Running when a daemon starts was cut short by a crash and is recorded as
 * Failed then.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Job, RoleStatus } from '../protocol/objects.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import type { StateDir } from './stateDir.js';

export type JobRecord = Job;

/** A job as its writer gives it: the size fields only a stored backup has may be left out. */
export type JobInput = Omit<Job, 'SourceBytes' | 'StoredBytes' | 'RoleMeasures'> &
  Partial<Pick<Job, 'SourceBytes' | 'StoredBytes' | 'RoleMeasures'>>;

/** Told of every job record saved: a job's start (Running) and its end. */
export type JobSavedListener = (job: JobRecord) => void;

/** Which jobs a listing returns: any of these outcomes and kinds (all when absent), the newest Top. */
export interface JobFilter {
  Outcome?: JobRecord['Outcome'][];
  Kind?: JobRecord['Kind'][];
  Top?: number;
}

export const INTERRUPTED_MESSAGE =
  'The daemon stopped while this job ran (crash, kill or power loss); earlier backups are intact. Run the job again.';

const UNFINISHED_ROLE: ReadonlySet<RoleStatus['Status']> = new Set(['Creating', 'Queued', 'Running']);

/**
 * A finished job never lists a role as still Queued or Running, whichever way it ended (a failed
 * store, a cancel, a crash): such a role ended with the job, and failed with the job's error.
 */
function closeUnfinishedRoles(job: JobRecord): JobRecord {
  if (job.Outcome === 'Running') return job;
  const message = job.ErrorMessage ?? `The ${job.Kind.toLowerCase()} job ended before this role finished.`;
  return {
    ...job,
    Roles: job.Roles.map((role) =>
      UNFINISHED_ROLE.has(role.Status) ? { ...role, Status: 'Failed', ErrorMessage: message } : role,
    ),
  };
}

/** Records written before jobs carried sizes read as jobs that stored nothing measured. */
function withSizes(job: JobInput): JobRecord {
  return { SourceBytes: null, StoredBytes: null, RoleMeasures: [], ...job };
}

export class JobHistory {
  constructor(
    private readonly state: StateDir,
    private readonly onSaved: JobSavedListener = () => undefined,
  ) {}

  private get folder(): string {
    return this.state.jobsDir;
  }

  private fileOf(job: JobRecord): string {
    return path.join(this.folder, `${job.StartTime.replace(/[-:.]/g, '')}-${job.JobId}.json`);
  }

  async save(input: JobInput): Promise<void> {
    const job = closeUnfinishedRoles(withSizes(input));
    await mkdir(this.folder, { recursive: true, mode: 0o700 });
    await writeJsonAtomic(this.fileOf(job), job);
    this.onSaved(job);
  }

  /** Every job, newest first. */
  async list(): Promise<JobRecord[]> {
    const names = (await readdir(this.folder).catch(() => [] as string[]))
      .filter((name) => name.endsWith('.json'))
      .sort()
      .reverse();
    const jobs = await Promise.all(
      names.map((name) => readJsonIfExists<JobInput>(path.join(this.folder, name))),
    );
    // Records written before roles were closed with their job are closed as they are read.
    return jobs
      .filter((job): job is JobInput => job !== undefined)
      .map((job) => closeUnfinishedRoles(withSizes(job)));
  }

  /** The jobs the filter selects, newest first. */
  async find(filter: JobFilter): Promise<JobRecord[]> {
    const selected = (await this.list()).filter(
      (job) =>
        (!filter.Outcome || filter.Outcome.includes(job.Outcome)) &&
        (!filter.Kind || filter.Kind.includes(job.Kind)),
    );
    return filter.Top === undefined ? selected : selected.slice(0, filter.Top);
  }

  /** Records every job a previous daemon left Running as Failed; returns them. */
  async failInterrupted(now: Date): Promise<JobRecord[]> {
    const interrupted = (await this.list()).filter((job) => job.Outcome === 'Running');
    for (const job of interrupted) {
      await this.save({
        ...job,
        Outcome: 'Failed',
        EndTime: now.toISOString(),
        ErrorMessage: INTERRUPTED_MESSAGE,
      });
    }
    return interrupted;
  }
}
