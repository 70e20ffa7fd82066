/** Time as the engine sees it: injected, so tests can move it (see the test hook in docs/rpc.md). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
