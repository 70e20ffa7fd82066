/** The engine: every service of one deployment, composed over its state folder. */
import type { StateDir } from '../state/stateDir.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { ConfigurationService } from './configuration.js';

export class Engine {
  readonly configuration: ConfigurationService;

  constructor(
    readonly state: StateDir,
    readonly clock: Clock,
    readonly log: Logger,
  ) {
    this.configuration = new ConfigurationService(state, clock);
  }
}
