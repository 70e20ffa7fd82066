/** A backup's progress events: one per role change, at most one every PROGRESS_INTERVAL_MS while bytes flow. */
import type { Role, RoleStatus } from '../protocol/objects.js';
import type { JobProgress, ProgressListener } from './job.js';

export const PROGRESS_INTERVAL_MS = 500;

function phaseOf(status: RoleStatus['Status']): JobProgress['phase'] {
  if (status === 'Succeeded') return 'backedUp';
  if (status === 'Failed') return 'backupFailed';
  return 'backingUp';
}

export class ProgressTracker {
  private lastSent = 0;
  private readonly done = new Set<string>();

  constructor(
    private readonly roles: Role[],
    private readonly listener: ProgressListener,
  ) {}

  update(roleName: string, status: RoleStatus, sourceBytes: number): void {
    const finished = status.Status === 'Succeeded' || status.Status === 'Failed';
    if (finished) this.done.add(roleName);
    const now = Date.now();
    if (
      !finished &&
      status.Status === 'Running' &&
      sourceBytes > 0 &&
      now - this.lastSent < PROGRESS_INTERVAL_MS
    )
      return;
    this.lastSent = now;
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
