/** Metrics for Prometheus's textfile collector. (Being written: see the issue 16 brief.) */
import type { EngineEvents } from './events.js';

export class MetricsService {
  constructor(readonly events: EngineEvents) {}

  start(): void {}
}
