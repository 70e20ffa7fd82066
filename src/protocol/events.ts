/**
 * The events the engine announces, as pushed notifications carry them (a webhook's JSON body is
 * `{ type, timestamp, data }` with exactly these shapes; docs/notifications.md shows one). Defined
 * once here, like the RPC contract: a change is a change of what receivers parse.
 */
import type { Alert, Job } from './objects.js';

/** Where an event happened: every message names the deployment (never a secret). */
export interface EventOrigin {
  DeploymentId: string;
  Location: string;
}

export type AlertEventData = Alert & EventOrigin;

/** A job as its start or end is announced: the job record, its duration and its origin. */
export type JobEventData = Job & EventOrigin & { DurationSeconds: number | null };

export type AlertEventType = 'alert.opened' | 'alert.closed';
export type JobEndEventType = 'backup.completed' | 'restore.completed' | 'prune.completed';

export type EngineEvent =
  | { type: AlertEventType; timestamp: string; data: AlertEventData }
  | { type: 'backup.started'; timestamp: string; data: JobEventData }
  | { type: JobEndEventType; timestamp: string; data: JobEventData }
  | { type: 'notification.test'; timestamp: string; data: EventOrigin & { Message: string } };
