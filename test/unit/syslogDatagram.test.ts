/**
 * Syslog over UDP (src/notify/syslog.ts): the datagram's socket is of the family of the address the
 * target's host resolves to, so a host name that resolves only to IPv6 is reached over udp6. Real
 * sockets on the loopback addresses; no name resolves to ::1 on the test machine, so that case gives
 * the channel a resolver that says so.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sendDatagram } from '../../src/notify/syslog.js';
import { type Receiver, startUdpReceiver } from '../helpers/receivers.js';
import { waitUntil } from '../helpers/waitUntil.js';

const receivers: Receiver<string>[] = [];
after(() => Promise.all(receivers.map((receiver) => receiver.close())));

async function receiverOn(host: string): Promise<Receiver<string>> {
  const receiver = await startUdpReceiver(host);
  receivers.push(receiver);
  return receiver;
}

test('a host name that resolves only to IPv6 is sent its datagram over udp6', async () => {
  const receiver = await receiverOn('::1');
  const asked: string[] = [];
  const onlyIpv6 = async (host: string) => {
    asked.push(host);
    return { address: '::1', family: 6 };
  };
  await sendDatagram({ protocol: 'udp', host: 'syslog.example', port: receiver.port }, 'to a name', onlyIpv6);
  await waitUntil(() => receiver.received.includes('to a name'), 'the datagram to the IPv6-only name');
  assert.deepEqual(asked, ['syslog.example']);
});

test('an IPv6 literal and an IPv4 name reach their listeners through the system resolver', async () => {
  const [v6, v4] = [await receiverOn('::1'), await receiverOn('127.0.0.1')];
  await sendDatagram({ protocol: 'udp', host: '::1', port: v6.port }, 'to ::1');
  await sendDatagram({ protocol: 'udp', host: 'localhost', port: v4.port }, 'to localhost');
  await waitUntil(() => v6.received.includes('to ::1'), 'the datagram to ::1');
  await waitUntil(() => v4.received.includes('to localhost'), 'the datagram to localhost');
});
