/**
 * The backup schedule as pure functions of (schedule state, frequency, now). Slots fall every
 * BackupFrequencyInHours from the last slot; the first comes one full period after the scheduler is
 * first enabled. A slot that passes while the daemon is down is caught up once at start, however
 * many were missed; an on-demand backup does not move the slots.
 */
import { HOUR_MS } from '../util/clock.js';

export interface ScheduleState {
  /** The latest slot that has been handled (run or skipped), or the enabling time before the first. */
  lastSlot: string;
}

export function nextSlot(schedule: ScheduleState, frequencyHours: number): Date {
  return new Date(Date.parse(schedule.lastSlot) + frequencyHours * HOUR_MS);
}

/**
 * The slot due now, if one is: the latest slot at or before `now` after the last handled one.
 * Returns the new schedule state to save once the slot has been handled.
 */
export function dueSlot(
  schedule: ScheduleState,
  frequencyHours: number,
  now: Date,
): { slot: Date; next: ScheduleState } | null {
  const period = frequencyHours * HOUR_MS;
  const last = Date.parse(schedule.lastSlot);
  if (now.getTime() < last + period) return null;
  const missed = Math.floor((now.getTime() - last) / period);
  const slot = new Date(last + missed * period);
  return { slot, next: { lastSlot: slot.toISOString() } };
}

export function firstSchedule(enabledAt: Date): ScheduleState {
  return { lastSlot: enabledAt.toISOString() };
}
