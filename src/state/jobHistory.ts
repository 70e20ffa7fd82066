/**
 * The job history: one small JSON file per job under jobs/, written atomically at start and at the
 * end. A job still marked Running when a daemon starts was cut short by a crash and is recorded as
 * Failed then. The history is bounded: each job's end drops the jobs past the bound (KEPT_JOBS,
 * KEPT_JOB_DAYS), never the newest good backups (state/lastGoodBackup.ts).
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Job, RoleStatus } from '../protocol/objects.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import { DAY_MS, systemClock, type Clock } from '../util/clock.js';
import { advance, marksOf, type JobRef, type LastGoodBackups } from './lastGoodBackup.js';
import type { StateDir } from './stateDir.js';

/** The history keeps the newest KEPT_JOBS jobs or those of the last KEPT_JOB_DAYS, whichever is more. */
export const KEPT_JOBS = 1000;
export const KEPT_JOB_DAYS = 90;

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

/** A time as job file names start with it (ISO 8601 without separators), so names sort by start. */
const stampOf = (time: string) => time.replace(/[-:.]/g, '');

const fileNameOf = (job: JobRef) => `${stampOf(job.StartTime)}-${job.JobId}.json`;

export class JobHistory {
  /** The marks of the newest good backups, once read; a job's end updates them and trims in turn. */
  private marks: Promise<LastGoodBackups> | undefined;
  private ending: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly state: StateDir,
    private readonly onSaved: JobSavedListener = () => undefined,
    private readonly clock: Clock = systemClock,
  ) {}

  private get folder(): string {
    return this.state.jobsDir;
  }

  async save(input: JobInput): Promise<void> {
    const job = closeUnfinishedRoles(withSizes(input));
    await mkdir(this.folder, { recursive: true, mode: 0o700 });
    await writeJsonAtomic(path.join(this.folder, fileNameOf(job)), job);
    if (job.Outcome !== 'Running') await this.ended(job);
    this.onSaved(job);
  }

  /**
   * Rewrites a finished job's record with what was learnt after its end (a restore's previous data
   * that could not be removed), without announcing the job's end a second time.
   */
  async amend(input: JobInput): Promise<void> {
    const job = closeUnfinishedRoles(withSizes(input));
    await writeJsonAtomic(path.join(this.folder, fileNameOf(job)), job);
  }

  /** When the newest backup that ended Succeeded or PartialSucceeded started: LastBackupTime. */
  async lastGoodBackupTime(): Promise<string | null> {
    return (await this.readMarks()).Good?.StartTime ?? null;
  }

  /** Ends are serialised: each updates the marks, then trims the history. */
  private ended(job: JobRecord): Promise<void> {
    const next = this.ending.then(async () => {
      const before = await this.readMarks();
      const after = advance(before, job);
      if (after !== before) {
        await writeJsonAtomic(this.state.lastGoodBackupFile, after);
        this.marks = Promise.resolve(after);
      }
      await this.trim(after);
    });
    this.ending = next.catch(() => undefined);
    return next;
  }

  /** The marks as kept; a read that failed is tried again next time rather than remembered. */
  private readMarks(): Promise<LastGoodBackups> {
    if (!this.marks) {
      this.marks = this.loadMarks();
      void this.marks.catch(() => (this.marks = undefined));
    }
    return this.marks;
  }

  /**
   * For a state folder written before the marks were kept, they are found once from the history; so
   * are marks that cannot be read (the history holds them too).
   */
  private async loadMarks(): Promise<LastGoodBackups> {
    const kept = await readJsonIfExists<LastGoodBackups>(this.state.lastGoodBackupFile).catch(
      () => undefined,
    );
    if (kept) return kept;
    const found = marksOf(await this.list());
    await writeJsonAtomic(this.state.lastGoodBackupFile, found);
    return found;
  }

  /** Removes the jobs past the bound: older than KEPT_JOB_DAYS and not among the newest KEPT_JOBS. */
  private async trim(marks: LastGoodBackups): Promise<void> {
    const cutoff = stampOf(new Date(this.clock.now().getTime() - KEPT_JOB_DAYS * DAY_MS).toISOString());
    const kept = new Set([marks.Good, marks.Succeeded].flatMap((job) => (job ? [fileNameOf(job)] : [])));
    const beyondCount = (await this.fileNames()).slice(KEPT_JOBS);
    for (const name of beyondCount) {
      if (name < cutoff && !kept.has(name)) await rm(path.join(this.folder, name), { force: true });
    }
  }

  /** The job files' names, newest first. */
  private async fileNames(): Promise<string[]> {
    return (await readdir(this.folder).catch(() => [] as string[]))
      .filter((name) => name.endsWith('.json'))
      .sort()
      .reverse();
  }

  /** Every job, newest first. */
  async list(): Promise<JobRecord[]> {
    const names = await this.fileNames();
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
