/**
 * The engine's announcements (src/protocol/events.ts): the alert service and the job history report
 * their changes here, and notifications and metrics listen. A listener runs after the change is
 * saved; one that fails is logged and never disturbs the job that emitted.
 */
import type {
  AlertEventType,
  EngineEvent,
  EventOrigin,
  JobEndEventType,
  JobEventData,
} from '../protocol/events.js';
import type { Alert, Job } from '../protocol/objects.js';
import type { Logger } from '../util/log.js';

export type EventListener = (event: EngineEvent) => void | Promise<void>;

const END_EVENT: Record<Job['Kind'], JobEndEventType> = {
  Backup: 'backup.completed',
  Restore: 'restore.completed',
  Prune: 'prune.completed',
};

export class EngineEvents {
  private readonly listeners: EventListener[] = [];

  constructor(
    private readonly origin: EventOrigin,
    private readonly log: Logger,
  ) {}

  on(listener: EventListener): void {
    this.listeners.push(listener);
  }

  alertChanged(type: AlertEventType, alert: Alert, timestamp: string): void {
    this.emit({ type, timestamp, data: { ...alert, ...this.origin } });
  }

  /** A job record was saved: a Running backup has started; any other outcome is a job's end. */
  jobSaved(job: Job, timestamp: string): void {
    const data: JobEventData = { ...job, ...this.origin, DurationSeconds: durationOf(job) };
    if (job.Outcome !== 'Running') this.emit({ type: END_EVENT[job.Kind], timestamp, data });
    else if (job.Kind === 'Backup') this.emit({ type: 'backup.started', timestamp, data });
  }

  /** The event Test-AzsBackupNotificationTarget sends. */
  testEvent(timestamp: string): EngineEvent {
    return {
      type: 'notification.test',
      timestamp,
      data: {
        ...this.origin,
        Message:
          'A test event from AzureStackBackup (Test-AzsBackupNotificationTarget); no action is needed.',
      },
    };
  }

  private emit(event: EngineEvent): void {
    for (const listener of this.listeners) {
      Promise.resolve()
        .then(() => listener(event))
        .catch((error: unknown) =>
          this.log.warn('event listener failed', {
            type: event.type,
            error: String((error as Error).message ?? error),
          }),
        );
    }
  }
}

export function durationOf(job: Job): number | null {
  if (!job.EndTime) return null;
  return Math.max(0, (Date.parse(job.EndTime) - Date.parse(job.StartTime)) / 1000);
}
