/**
 * Methods only a daemon started with --test-hooks serves (tests and the reliability scripts): they
 * are not part of the protocol (src/protocol/methods.ts), so the module and docs/rpc.md never list
 * them, and any other daemon answers MethodNotFound.
 */
import { Type } from '@sinclair/typebox';
import type { Engine } from '../engine/engine.js';
import { define } from '../protocol/methods.js';
import { HOUR_MS, type MovableClock } from '../util/clock.js';
import { daemonMethods, type DaemonMethods } from './dispatch.js';

export const TestHookMethods = {
  'test.advanceClock': define({
    description: 'Moves the daemon clock forward and runs the scheduler and the condition checks.',
    params: Type.Object(
      { Hours: Type.Number({ minimum: 0, maximum: 24 * 365 }) },
      { additionalProperties: false },
    ),
    result: Type.Object({ now: Type.String() }),
  }),
};

export function testHookMethods(engine: Engine, clock: MovableClock): DaemonMethods {
  return daemonMethods(TestHookMethods, {
    'test.advanceClock': async ({ Hours }) => {
      const now = await clock.advance(Hours * HOUR_MS);
      await engine.catchUp();
      return { now: now.toISOString() };
    },
  });
}
