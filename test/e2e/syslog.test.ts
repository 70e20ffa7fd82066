/**
 * The Syslog target through a real daemon, to a UDP and a TCP listener on 127.0.0.1: every message
 * parses as RFC 5424 (test/helpers/rfc5424.ts), TCP frames are split by their octet counts, and the
 * severities follow the events: a real fault (the store folder removed) opens a Critical alert (crit)
 * and fails the backup (err); the next good backup closes the alert (notice) and succeeds (info).
 * The TCP connection dropped by the listener is opened again. No secret is in any message.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { octetCountedFrame } from '../../src/notify/syslog.js';
import { SD_ID } from '../../src/notify/syslogMessage.js';
import type { TestDaemon } from '../helpers/daemon.js';
import { PFX_PASSWORD, deploymentForSuite, withoutStore, type Deployment } from '../helpers/deployment.js';
import {
  OctetCountedReader,
  startTcpReceiver,
  startUdpReceiver,
  type Receiver,
  type TcpReceiver,
} from '../helpers/receivers.js';
import { parseRfc5424, type SyslogMessage } from '../helpers/rfc5424.js';
import { waitUntil } from '../helpers/waitUntil.js';

const SEVERITY = { crit: 2, err: 3, notice: 5, info: 6 };

test('the test listener splits octet-counted frames however they are chunked', () => {
  const frames = Buffer.concat([octetCountedFrame('<30>1 first ü'), octetCountedFrame('<30>1 second')]);
  assert.deepEqual(new OctetCountedReader().push(frames), ['<30>1 first ü', '<30>1 second']);
  const reader = new OctetCountedReader();
  const pieces = [frames.subarray(0, 1), frames.subarray(1, 17), frames.subarray(17)];
  assert.deepEqual(
    pieces.flatMap((piece) => reader.push(piece)),
    ['<30>1 first ü', '<30>1 second'],
  );
  assert.throws(() => new OctetCountedReader().push(Buffer.from('<30>1 not counted')), /octet count/);
});

describe('syslog over UDP and TCP', () => {
  const suite = deploymentForSuite();
  let daemon: TestDaemon;
  let deployment: Deployment;
  let udp: Receiver<string>;
  let tcp: TcpReceiver;

  before(async () => {
    [udp, tcp] = await Promise.all([startUdpReceiver(), startTcpReceiver()]);
    ({ daemon, deployment } = suite());
    await daemon.call('notification.add', {
      Name: 'syslog-udp',
      Kind: 'Syslog',
      Uri: `udp://127.0.0.1:${udp.port}`,
    });
    await daemon.call('notification.add', {
      Name: 'syslog-tcp',
      Kind: 'Syslog',
      Uri: `tcp://127.0.0.1:${tcp.port}`,
    });
  });
  after(async () => {
    await udp?.close();
    await tcp?.close();
  });

  /** Every message a listener got, parsed strictly: one that does not parse fails the test. */
  const parsed = (receiver: Receiver<string>): SyslogMessage[] => receiver.received.map(parseRfc5424);

  function find(
    receiver: Receiver<string>,
    msgId: string,
    match: (message: SyslogMessage) => boolean,
  ): SyslogMessage | undefined {
    return parsed(receiver).find((message) => message.msgId === msgId && match(message));
  }

  async function expectMessage(
    msgId: string,
    match: (message: SyslogMessage) => boolean,
    severity: number,
  ): Promise<SyslogMessage[]> {
    const both = [udp, tcp] as const;
    await waitUntil(
      () => both.every((receiver) => find(receiver, msgId, match)),
      `a ${msgId} message on both listeners`,
      10_000,
    );
    return both.map((receiver) => {
      const message = find(receiver, msgId, match) as SyslogMessage;
      assert.equal(message.severity, severity, `${msgId} severity`);
      assert.equal(message.facility, 3, 'facility daemon');
      assert.equal(message.appName, 'azsbackup');
      assert.equal(message.procId, String(daemon.pid));
      assert.ok(message.hasBom, 'MSG marked UTF-8');
      assert.ok(!Number.isNaN(Date.parse(message.timestamp)));
      return message;
    });
  }

  const outcome = (value: string) => (message: SyslogMessage) =>
    message.structuredData[SD_ID]?.outcome === value;
  const storePath = (message: SyslogMessage) => /fault in the external store path/.test(message.msg);

  test('a real fault: alert opened (crit) with its remediation, backup Failed (err)', async () => {
    await withoutStore(deployment, () => assert.rejects(daemon.call('backup.start', { Wait: true })));
    for (const message of await expectMessage('alert.opened', storePath, SEVERITY.crit)) {
      assert.match(message.msg, /^Critical alert: .*Set-AzsBackupConfiguration -Path/);
      const data = message.structuredData[SD_ID];
      assert.equal(data?.severity, 'Critical');
      assert.equal(data?.location, 'local');
      assert.match(data?.alertId ?? '', /\S/);
    }
    for (const message of await expectMessage('backup.completed', outcome('Failed'), SEVERITY.err))
      assert.match(message.structuredData[SD_ID]?.jobId ?? '', /\S/);
  });

  test('the next good backup, after the TCP listener dropped the connection: closed (notice), Succeeded (info)', async () => {
    const connections = tcp.connections;
    tcp.dropConnections();
    assert.equal((await daemon.call('backup.start', { Wait: true })).Status, 'Succeeded');
    await expectMessage('alert.closed', storePath, SEVERITY.notice);
    await expectMessage('backup.completed', outcome('Succeeded'), SEVERITY.info);
    assert.ok(tcp.connections > connections, 'the channel connected again');
  });

  test('the test event reaches both listeners and reports it was sent', async () => {
    for (const Name of ['syslog-udp', 'syslog-tcp']) {
      const answer = await daemon.call('notification.test', { Name });
      assert.equal(answer.Succeeded, true, answer.Response);
      assert.equal(answer.StatusCode, null);
    }
    await expectMessage('notification.test', () => true, SEVERITY.info);
  });

  test('no secret in any message: not the .pfx password, not the daemon token', () => {
    const token = readFileSync(path.join(daemon.stateDir, 'token'), 'utf8').trim();
    const everything = [...udp.received, ...tcp.received];
    assert.ok(everything.length >= 5);
    for (const message of everything) {
      assert.ok(!message.includes(PFX_PASSWORD), message);
      assert.ok(!message.includes(token), message);
    }
  });
});
