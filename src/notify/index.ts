/** The channels, one per target kind. */
import type { NotificationKind } from '../protocol/objects.js';
import type { Channel, ChannelOptions } from './channel.js';
import { HeartbeatChannel } from './heartbeat.js';
import { SyslogChannel } from './syslog.js';
import { WebhookChannel } from './webhook.js';

export function createChannels(options: ChannelOptions): Record<NotificationKind, Channel> {
  return {
    Webhook: new WebhookChannel(options),
    Heartbeat: new HeartbeatChannel(options),
    Syslog: new SyslogChannel(options),
  };
}
