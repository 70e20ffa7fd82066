/** A backup's progress events: one per role change, at most one every PROGRESS_INTERVAL_MS while bytes flow. */
import type { Role, RoleStatus } from '../protocol/objects.js';
import type { JobProgress, ProgressListener } from './job.js';

const PROGRESS_INTERVAL_MS = 500;

function phaseOf(status: RoleStatus['Status']): JobProgress['phase'] {
  if (status === 'Succeeded') return 'backedUp';
  if (status === 'Failed') return 'backupFailed';
  return 'backingUp';
}

/** Lets through at most one event every PROGRESS_INTERVAL_MS while bytes flow; forced ones always. */
export class ProgressThrottle {
  private lastSent = Number.NEGATIVE_INFINITY;

  due(force: boolean): boolean {
    const now = Date.now();
    if (!force && now - this.lastSent < PROGRESS_INTERVAL_MS) return false;
    this.lastSent = now;
    return true;
  }
}

export class ProgressTracker {
  private readonly throttle = new ProgressThrottle();
  private readonly done = new Set<string>();

  constructor(
    private readonly roles: Role[],
    private readonly listener: ProgressListener,
  ) {}

  update(roleName: string, status: RoleStatus, sourceBytes: number): void {
    const finished = status.Status === 'Succeeded' || status.Status === 'Failed';
    if (finished) this.done.add(roleName);
    if (!this.throttle.due(finished || status.Status !== 'Running' || sourceBytes === 0)) return;
    this.listener({
      role: roleName,
      phase: phaseOf(status.Status),
      bytes: sourceBytes,
      totalBytes: null,
      done: this.done.size,
      total: this.roles.length,
    });
  }
}
