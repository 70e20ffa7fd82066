/** Time as the engine sees it: injected, so tests can move it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * The system clock plus an offset that tests move forward (daemon started with --test-hooks; the
 * hook is an RPC method, so it needs the deployment token like every other).
 */
export class MovableClock implements Clock {
  private offsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  advance(milliseconds: number): Date {
    this.offsetMs += milliseconds;
    return this.now();
  }
}
