/**
 * The scheduler inside the daemon: checks the schedule at each slot (and at least every minute),
 * starts the automatic backup of a due slot, or records it Skipped when the scheduler is off or a
 * job is running. Slots and catch-up follow src/engine/schedule.ts.
 */
import { randomUUID } from 'node:crypto';
import type { JobHistory } from '../state/jobHistory.js';
import type { SavedConfig, StateDir } from '../state/stateDir.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { BackupService } from './backupJob.js';
import type { ExclusiveJobs } from './exclusive.js';
import { jobRecord } from './job.js';
import { dueSlot, firstSchedule, nextSlot, type ScheduleState } from './schedule.js';

const MAX_SLEEP_MS = 60_000;

export interface SchedulerDeps {
  state: StateDir;
  clock: Clock;
  log: Logger;
  history: JobHistory;
  jobs: ExclusiveJobs;
  backups: BackupService;
  /** Called when an automatic backup cannot start (expired certificate …): alerts. */
  onStartFailure(error: unknown): Promise<void>;
}

export function backupEnabled(config: SavedConfig): boolean {
  return config.path !== null && config.certificate !== null;
}

export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();

  constructor(private readonly deps: SchedulerDeps) {}

  private get file(): string {
    return this.deps.state.scheduleFile;
  }

  readSchedule(): Promise<ScheduleState | undefined> {
    return readJsonIfExists<ScheduleState>(this.file);
  }

  /** The first slot is one full period after the scheduler is first enabled on a usable configuration. */
  async onConfigChanged(config: SavedConfig): Promise<void> {
    if (!backupEnabled(config) || !config.isBackupSchedulerEnabled) return;
    if (!(await this.readSchedule())) await writeJsonAtomic(this.file, firstSchedule(this.deps.clock.now()));
    this.arm(0);
  }

  async nextBackupTime(config: SavedConfig): Promise<string | null> {
    const schedule = await this.readSchedule();
    if (!schedule || !config.isBackupSchedulerEnabled || !backupEnabled(config)) return null;
    return nextSlot(schedule, config.backupFrequencyInHours).toISOString();
  }

  start(): void {
    this.arm(0);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Handles the due slot, if any. Serialised: overlapping calls run one after the other. */
  tick(): Promise<void> {
    const run = this.ticking.then(() => this.handleDueSlot());
    this.ticking = run.catch((error: unknown) => {
      this.deps.log.error('scheduler tick failed', { error: String(error) });
    });
    return run;
  }

  private arm(delayMs: number): void {
    this.stop();
    this.timer = setTimeout(() => void this.tick().finally(() => this.rearm()), delayMs);
    this.timer.unref();
  }

  private async rearm(): Promise<void> {
    const config = await this.deps.state.readConfig();
    const next = await this.nextBackupTime(config);
    const wait = next ? Date.parse(next) - this.deps.clock.now().getTime() : MAX_SLEEP_MS;
    this.arm(Math.max(1000, Math.min(MAX_SLEEP_MS, wait)));
  }

  private async handleDueSlot(): Promise<void> {
    const { state, clock, log } = this.deps;
    const config = await state.readConfig();
    const schedule = await this.readSchedule();
    if (!schedule || !backupEnabled(config)) return;
    const due = dueSlot(schedule, config.backupFrequencyInHours, clock.now());
    if (!due) return;
    await writeJsonAtomic(this.file, due.next);
    if (!config.isBackupSchedulerEnabled) return this.recordSkipped(due.slot, 'The scheduler is disabled.');
    const running = this.deps.jobs.current;
    if (running) return this.recordSkipped(due.slot, `A job was running (id ${running.backupId}).`);
    log.info('scheduled backup starting', { slot: due.slot.toISOString() });
    try {
      await this.deps.backups.start({ isAutomatic: true }).accepted;
    } catch (error) {
      await this.deps.onStartFailure(error);
    }
  }

  private async recordSkipped(slot: Date, why: string): Promise<void> {
    const now = this.deps.clock.now();
    this.deps.log.info('scheduled backup skipped', { slot: slot.toISOString(), why });
    await this.deps.history.save(
      jobRecord({
        kind: 'Backup',
        jobId: randomUUID(),
        backupId: null,
        isAutomatic: true,
        startTime: now,
        roles: [],
        ended: {
          at: now,
          outcome: 'Skipped',
          errorMessage: `Scheduled slot ${slot.toISOString()} skipped: ${why}`,
        },
      }),
    );
  }
}
