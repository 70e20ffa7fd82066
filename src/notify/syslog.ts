/** The Syslog channel. (Being written: see the issue 16 brief.) */
import type { EngineEvent } from '../protocol/events.js';
import type { TargetWithSecret } from '../state/notificationTargets.js';
import type { Channel, ChannelOptions, DeliveryResult } from './channel.js';

export class SyslogChannel implements Channel {
  constructor(readonly options: ChannelOptions) {}

  wants(_event: EngineEvent): boolean {
    return false;
  }

  async deliver(_target: TargetWithSecret, _event: EngineEvent): Promise<void> {}

  async sendNow(_target: TargetWithSecret, _event: EngineEvent): Promise<DeliveryResult> {
    return { Succeeded: false, StatusCode: null, Response: 'not written yet' };
  }

  async pending(_targetName: string): Promise<number> {
    return 0;
  }

  async forget(_targetName: string): Promise<void> {}

  start(): void {}

  async stop(): Promise<void> {}
}
