/** One backup or restore job at a time per deployment (SPEC §4 "One job at a time"). */
import { AzsError } from '../protocol/errors.js';

export interface ActiveJob {
  kind: 'Backup' | 'Restore';
  backupId: string;
  abort: AbortController;
}

export class ExclusiveJobs {
  private active: ActiveJob | null = null;

  get current(): ActiveJob | null {
    return this.active;
  }

  /** Claims the slot or fails at once naming the job that holds it. */
  claim(kind: ActiveJob['kind'], backupId: string): ActiveJob {
    if (this.active) {
      const what = this.active.kind === 'Backup' ? 'a backup' : 'a restore';
      throw new AzsError(
        'BackupAlreadyRunning',
        `${what} is already running (id ${this.active.backupId}). Wait for it to finish (Get-AzsBackup shows its status), then try again.`,
        { target: this.active.backupId },
      );
    }
    this.active = { kind, backupId, abort: new AbortController() };
    return this.active;
  }

  release(job: ActiveJob): void {
    if (this.active === job) this.active = null;
  }

  /** Asks the running job to stop (daemon shutdown). */
  abortAll(): void {
    this.active?.abort.abort();
  }
}
