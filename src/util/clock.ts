import { readJsonIfExists, writeJsonAtomic } from './atomicFile.js';

/** Time as the engine sees it: injected, so tests can move it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Milliseconds in an hour: backup frequencies, the schedule's slots, the test clock's moves. */
export const HOUR_MS = 3600 * 1000;
/** Milliseconds in a day: retention periods, alert and report spans, certificate warnings. */
export const DAY_MS = 24 * HOUR_MS;

/**
 * The system clock plus an offset that tests move forward (daemon started with --test-hooks; the
 * hook is an RPC method, so it needs the deployment token like every other). The offset is kept in
 * a file so that a restarted daemon goes on at the moved time (downtime tests).
 */
export class MovableClock implements Clock {
  private constructor(
    private readonly file: string,
    private offsetMs: number,
  ) {}

  static async load(file: string): Promise<MovableClock> {
    const saved = await readJsonIfExists<{ offsetMs: number }>(file);
    return new MovableClock(file, saved?.offsetMs ?? 0);
  }

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  async advance(milliseconds: number): Promise<Date> {
    this.offsetMs += milliseconds;
    await writeJsonAtomic(this.file, { offsetMs: this.offsetMs });
    return this.now();
  }
}
