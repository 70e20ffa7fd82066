/**
 * One backup or restore job at a time per deployment (SPEC §4 "One job at a time"), and one change
 * of a format 4 repository's packs at a time.
 */
import { AzsError } from '../protocol/errors.js';

export interface ActiveJob {
  kind: 'Backup' | 'Restore';
  backupId: string;
  abort: AbortController;
}

export class ExclusiveJobs {
  private active: ActiveJob | null = null;
  /** Resolves when the active job is released. */
  private released: () => void = () => undefined;
  private idle: Promise<void> = Promise.resolve();
  private backupsClaimed = 0;

  get current(): ActiveJob | null {
    return this.active;
  }

  /** How many backups have claimed the slot since the daemon started: one that came and went shows. */
  get backupsStarted(): number {
    return this.backupsClaimed;
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
    if (kind === 'Backup') this.backupsClaimed += 1;
    this.idle = new Promise((resolve) => (this.released = resolve));
    return this.active;
  }

  release(job: ActiveJob): void {
    if (this.active !== job) return;
    this.active = null;
    this.released();
  }

  /**
   * Asks the running job to stop (daemon shutdown) and waits, at most `graceMs`, until it has
   * ended: its end is then recorded and announced before notifications stop.
   */
  async abortAll(graceMs: number): Promise<void> {
    this.active?.abort.abort();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([this.idle, grace]);
    clearTimeout(timer);
  }
}

/**
 * The repository's packs changed by one job at a time: the removals and repacks after a backup's
 * retention, and a prune's. A prune runs beside a backup, and a repack's new pack is an orphan until
 * its record is stored, so the other's search for orphans would remove it and leave the record
 * naming a pack that is gone. Whoever comes second waits.
 */
export class RepositoryChanges {
  private last: Promise<void> = Promise.resolve();

  async run<T>(change: () => Promise<T>): Promise<T> {
    const before = this.last;
    let done!: () => void;
    this.last = new Promise((resolve) => (done = resolve));
    try {
      await before;
      return await change();
    } finally {
      done();
    }
  }
}
