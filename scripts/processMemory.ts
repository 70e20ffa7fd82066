/**
 * A process's resident memory as Linux reports it (/proc/<pid>/status), for the bench and the
 * in-process measurements: now (VmRSS), at its peak (VmHWM), and the peak started afresh.
 */
import { readFileSync, writeFileSync } from 'node:fs';

type Process = number | 'self';

/** VmRSS (now) or VmHWM (peak) of `pid`, in KiB; 0 when the kernel does not say. */
export function residentKb(field: 'VmRSS' | 'VmHWM', pid: Process = 'self'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
}

/** Sets the peak (VmHWM) of `pid` back to its resident size now: writing 5 to clear_refs. */
export function resetPeakRss(pid: Process = 'self'): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}
