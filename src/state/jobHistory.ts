/**
 * The job history: one small JSON file per job under jobs/, written atomically at start and at the
 * end. A job still marked Running when a daemon starts was cut short by a crash and is recorded as
 * Failed then.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Job } from '../protocol/objects.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import type { StateDir } from './stateDir.js';

export type JobRecord = Job;

export const INTERRUPTED_MESSAGE =
  'The daemon stopped while this job ran (crash, kill or power loss); earlier backups are intact. Run the job again.';

export class JobHistory {
  constructor(private readonly state: StateDir) {}

  private get folder(): string {
    return this.state.file('jobs');
  }

  private fileOf(job: JobRecord): string {
    return path.join(this.folder, `${job.StartTime.replace(/[-:.]/g, '')}-${job.JobId}.json`);
  }

  async save(job: JobRecord): Promise<void> {
    await mkdir(this.folder, { recursive: true, mode: 0o700 });
    await writeJsonAtomic(this.fileOf(job), job);
  }

  /** Every job, newest first. */
  async list(): Promise<JobRecord[]> {
    const names = (await readdir(this.folder).catch(() => [] as string[]))
      .filter((name) => name.endsWith('.json'))
      .sort()
      .reverse();
    const jobs = await Promise.all(
      names.map((name) => readJsonIfExists<JobRecord>(path.join(this.folder, name))),
    );
    return jobs.filter((job): job is JobRecord => job !== undefined);
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
