/**
 * Webhooks from a real daemon to a real receiver on 127.0.0.1 that verifies every signature with the
 * `standardwebhooks` package (issue 16, point 2): a store fault and its repair reach the receiver as
 * alert and job messages within 5 s (a removed store folder, a stopped Samba share); 503s are retried
 * under the same webhook-id and stop once accepted; what waits in the outbox survives a kill -9; a
 * target answering 400 raises its own alert; no secret shows in a message or the daemon log — nor,
 * with every channel on a Samba share, in any ping, syslog line, metric or state file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { RpcError } from '../../src/daemon/client.js';
import { STORE_PATH_REMEDIATION } from '../../src/engine/alertRules.js';
import type { AlertEventData, JobEventData } from '../../src/protocol/events.js';
import type { NotificationTarget } from '../../src/protocol/objects.js';
import { removeDir, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import {
  PFX_PASSWORD,
  createDeployment,
  deploymentForSuite,
  type Deployment,
} from '../helpers/deployment.js';
import {
  startHttpReceiver,
  startTcpReceiver,
  startUdpReceiver,
  type Receiver,
} from '../helpers/receivers.js';
import { SambaServer } from '../helpers/samba.js';
import { waitUntil } from '../helpers/waitUntil.js';
import { closedPort, WebhookReceiver, type ReceivedMessage } from '../helpers/webhookReceiver.js';

const WHSEC_KEY = Buffer.from('the e2e signing key, 32 bytes!!!').toString('base64');
const WHSEC_SECRET = `whsec_${WHSEC_KEY}`;
const PLAIN_SECRET = 'plain webhook sécret ✓ 7f3a';
const REJECTED_TITLE = 'A notification target refuses the messages sent to it';

const jobOf = (message: ReceivedMessage) => message.event.data as JobEventData;
const alertOf = (message: ReceivedMessage) => message.event.data as AlertEventData;

const deploymentLocation = (daemon: TestDaemon) =>
  (JSON.parse(readFileSync(path.join(daemon.stateDir, 'deployment.json'), 'utf8')) as { Location: string })
    .Location;

/**
 * A store fault and its repair as a receiver sees them: the failed backup's alert.opened (returned
 * for the caller's own checks) within 5 s of the job's end and its backup.completed (Failed); after
 * the repair, the next good backup's alert.closed and backup.completed with its measures.
 */
async function faultAndRepair(
  daemon: TestDaemon,
  hook: WebhookReceiver,
  fault: { break(): Promise<void> | void; repair(): Promise<void> | void },
): Promise<AlertEventData> {
  await fault.break();
  try {
    await daemon.call('backup.start', { Wait: true }).catch(() => undefined);
  } finally {
    await fault.repair();
  }
  const [failed] = (await daemon.call('job.list', { Kind: ['Backup'], Top: 1 })).jobs;
  assert.equal(failed?.Outcome, 'Failed');
  await waitUntil(
    () => hook.ofType('alert.opened').length > 0 && hook.ofType('backup.completed').length > 0,
    'alert.opened and backup.completed received',
    10_000,
  );
  const opened = hook.received(0, 'alert.opened');
  assert.notEqual(alertOf(opened).Remediation, '');
  assert.equal(alertOf(opened).Location, deploymentLocation(daemon));
  const sinceEnd = opened.receivedAt - Date.parse(failed.EndTime!);
  assert.ok(sinceEnd <= 5000, `alert.opened came ${sinceEnd} ms after the job's end`);
  assert.equal(jobOf(hook.received(0, 'backup.completed')).Outcome, 'Failed');
  assert.equal(jobOf(hook.received(0, 'backup.completed')).JobId, failed.JobId);

  const good = await daemon.call('backup.start', { Wait: true });
  assert.equal(good.Status, 'Succeeded');
  await waitUntil(
    () => hook.ofType('alert.closed').length > 0 && hook.ofType('backup.completed').length > 1,
    'alert.closed and the second backup.completed received',
    10_000,
  );
  assert.equal(alertOf(hook.received(0, 'alert.closed')).AlertId, alertOf(opened).AlertId);
  const succeeded = jobOf(hook.received(1, 'backup.completed'));
  assert.equal(succeeded.Outcome, 'Succeeded');
  assert.equal(succeeded.BackupId, good.BackupId);
  assert.deepEqual(succeeded.RoleMeasures.map((role) => role.RoleName).sort(), ['CA', 'WAS']);
  assert.ok((succeeded.StoredBytes ?? 0) > 0);
  assert.ok((succeeded.DurationSeconds ?? -1) >= 0);
  assert.equal(succeeded.Location, deploymentLocation(daemon));
  assert.deepEqual(
    hook.messages.filter((message) => message.signatureError !== null),
    [],
    'every signature verifies',
  );
  assert.equal(hook.ofType('backup.started').length, 0, 'a start is not sent');
  return alertOf(opened);
}

interface Place {
  place: string;
  text: string;
}

/** What a webhook receiver got: each body, and every header but the signature (an HMAC, not a secret). */
function webhookPlaces(received: ReceivedMessage[]): Place[] {
  return received.map((message) => ({
    place: `the ${message.event.type} message`,
    text: `${message.body}\n${JSON.stringify(Object.entries(message.headers).filter(([name]) => name !== 'webhook-signature'))}`,
  }));
}

function logPlace(daemon: TestDaemon): Place {
  return {
    place: 'the daemon log',
    text: readFileSync(path.join(daemon.stateDir, 'logs', 'daemon.log'), 'utf8'),
  };
}

/** The places where a secret shows, as written or escaped inside JSON. */
function secretsShown(places: Place[], secrets: string[]): string[] {
  const forms = secrets.flatMap((secret) => [secret, JSON.stringify(secret).slice(1, -1)]);
  return places.flatMap(({ place, text }) => (forms.some((form) => text.includes(form)) ? [place] : []));
}

describe('webhook notifications from a real daemon', () => {
  const suite = deploymentForSuite();
  const receivers: WebhookReceiver[] = [];

  after(async () => {
    await Promise.all(receivers.map((receiver) => receiver.close()));
  });

  async function receiver(options: { secret?: string; port?: number }): Promise<WebhookReceiver> {
    const started = await WebhookReceiver.start(options);
    receivers.push(started);
    return started;
  }

  /** Polls the daemon until `check` holds for a target (its outbox drains after the receiver answered). */
  async function waitForTarget(
    name: string,
    check: (target: NotificationTarget | undefined) => boolean,
    what: string,
  ): Promise<NotificationTarget | undefined> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const [target] = (await suite().daemon.call('notification.list', { Name: name })).targets;
      if (check(target)) return target;
      if (Date.now() > deadline)
        throw new Error(`${what} did not happen within 10 s: ${JSON.stringify(target)}`);
      await sleep(100);
    }
  }

  async function withTarget(
    name: string,
    uri: string,
    secret: string,
    body: () => Promise<void>,
  ): Promise<void> {
    const { daemon } = suite();
    await daemon.call('notification.add', { Name: name, Kind: 'Webhook', Uri: uri, Secret: secret });
    try {
      await body();
    } finally {
      await daemon.call('notification.remove', { Name: name });
    }
  }

  test('a store fault and its repair: alert.opened with the remediation within 5 s, then alert.closed and backup.completed', async () => {
    const { daemon, deployment } = suite();
    const hook = await receiver({ secret: WHSEC_SECRET });
    await withTarget('ops', hook.url, WHSEC_SECRET, async () => {
      const moved = `${deployment.store}.moved`;
      const opened = await faultAndRepair(daemon, hook, {
        break: () => renameSync(deployment.store, moved),
        repair: () => renameSync(moved, deployment.store),
      });
      assert.ok(opened.Remediation.includes(STORE_PATH_REMEDIATION), opened.Remediation);
    });
  });

  test('a receiver answering 503 twice gets the message three times under one webhook-id, then never again', async () => {
    const { daemon } = suite();
    const hook = await receiver({ secret: PLAIN_SECRET });
    await withTarget('flaky', hook.url, PLAIN_SECRET, async () => {
      hook.answers.push(503, 503);
      const backup = await daemon.call('backup.start', { Wait: true });
      const ofBackup = () =>
        hook.ofType('backup.completed').filter((message) => jobOf(message).BackupId === backup.BackupId);
      await waitUntil(() => ofBackup().length === 3, 'three tries', 15_000);
      const tries = ofBackup();
      assert.deepEqual(
        tries.map((message) => message.answered),
        [503, 503, 200],
      );
      assert.equal(new Set(tries.map((message) => message.id)).size, 1, 'one webhook-id');
      const [firstTry, secondTry, thirdTry] = tries.map((message) => message.receivedAt);
      assert.ok(firstTry !== undefined && secondTry !== undefined && thirdTry !== undefined, 'three tries');
      assert.ok(secondTry - firstTry >= 900, 'about 1 s before the first retry');
      assert.ok(thirdTry - secondTry >= 1900, 'about 2 s before the second retry');
      assert.deepEqual(
        tries.map((message) => message.signatureError),
        [null, null, null],
      );
      // The next step of the backoff would be 4 s: wait past it to see that nothing comes again.
      await sleep(5000);
      assert.equal(ofBackup().length, 3);
      const [target] = (await daemon.call('notification.list', { Name: 'flaky' })).targets;
      assert.equal(target?.PendingMessages, 0);
      assert.equal(target?.LastError, null);
    });
  });

  test('messages waiting for a receiver that is down survive a kill -9 and are sent after the restart', async () => {
    const { daemon } = suite();
    const port = await closedPort();
    await withTarget('down', `http://127.0.0.1:${port}/hooks/azsbackup`, WHSEC_SECRET, async () => {
      const backup = await daemon.call('backup.start', { Wait: true });
      const waiting = await waitForTarget(
        'down',
        (target) => target?.LastError?.includes('ECONNREFUSED') ?? false,
        'a refused try',
      );
      assert.equal(waiting?.PendingMessages, 1, 'the backup.completed message waits in the outbox');

      process.kill(daemon.pid, 'SIGKILL');
      const hook = await receiver({ secret: WHSEC_SECRET, port });
      daemon.restart();
      await waitUntil(() => hook.ofType('backup.completed').length > 0, 'the kept message sent', 10_000);
      assert.equal(jobOf(hook.received(0, 'backup.completed')).BackupId, backup.BackupId);
      assert.equal(hook.received(0).signatureError, null);
      await waitForTarget('down', (target) => target?.PendingMessages === 0, 'the outbox emptied');
    });
  });

  test('a target answering 400 raises NotificationTargetRejected, which closes when it accepts again', async () => {
    const { daemon } = suite();
    const hook = await receiver({ secret: WHSEC_SECRET });
    const rejectedAlert = async () =>
      (await daemon.call('alert.list', {})).alerts.find((alert) => alert.Title === REJECTED_TITLE);
    await withTarget('refusing', hook.url, WHSEC_SECRET, async () => {
      hook.status = 400;
      await daemon.call('backup.start', { Wait: true });
      const announced = () => hook.messages.filter((message) => message.event.type === 'alert.opened');
      // The alert's own opening is sent to the target too (and refused): it shows the alert is open.
      await waitUntil(
        () => announced().some((message) => alertOf(message).Title === REJECTED_TITLE),
        'the NotificationTargetRejected alert announced',
        10_000,
      );
      const opened = await rejectedAlert();
      assert.equal(opened?.State, 'Active');
      assert.match(opened?.Description ?? '', /refusing \(HTTP 400 Bad Request/);
      assert.equal(
        hook.messages.filter((message) => message.answered === 400).length,
        2,
        'no retry of a 400',
      );

      hook.status = 200;
      await daemon.call('backup.start', { Wait: true });
      await waitUntil(
        () => hook.ofType('alert.closed').some((message) => alertOf(message).Title === REJECTED_TITLE),
        'the NotificationTargetRejected alert closed',
        10_000,
      );
      assert.equal((await rejectedAlert())?.State, 'Closed');
    });
  });

  test('Test-AzsBackupNotificationTarget sends notification.test at once; a whsec_ secret that is not base64 is refused, nothing saved', async () => {
    const { daemon } = suite();
    const hook = await receiver({ secret: WHSEC_SECRET });
    await withTarget('tested', hook.url, WHSEC_SECRET, async () => {
      const answer = await daemon.call('notification.test', { Name: 'tested' });
      assert.deepEqual(
        { Succeeded: answer.Succeeded, StatusCode: answer.StatusCode, Response: answer.Response },
        { Succeeded: true, StatusCode: 200, Response: 'HTTP 200 OK: ok' },
      );
      assert.deepEqual(
        hook.messages.map((message) => [message.event.type, message.signatureError]),
        [['notification.test', null]],
      );
    });
    await assert.rejects(
      daemon.call('notification.add', {
        Name: 'malformed',
        Kind: 'Webhook',
        Uri: hook.url,
        Secret: 'whsec_not base64!',
      }),
      (error: unknown) => {
        assert.ok(error instanceof RpcError);
        assert.equal(error.data?.reason, 'InvalidParameter');
        assert.equal(error.data?.parameter, 'Secret');
        assert.ok(!error.message.includes('not base64!'), 'the secret is not echoed');
        return true;
      },
    );
    assert.deepEqual((await daemon.call('notification.list', { Name: 'malformed' })).targets, []);
  });

  test('no secret in any message body, any header but the signature, or the daemon log', () => {
    const received = receivers.flatMap((receiver) => receiver.messages);
    assert.ok(received.length >= 10, `${received.length} messages seen`);
    const log = readFileSync(path.join(suite().daemon.stateDir, 'logs', 'daemon.log'), 'utf8');
    assert.match(log, /webhook message dropped: refused by the target/);
    assert.deepEqual(
      secretsShown(
        [...webhookPlaces(received), logPlace(suite().daemon)],
        [WHSEC_SECRET, WHSEC_KEY, PLAIN_SECRET, PFX_PASSWORD],
      ),
      [],
    );
  });
});

/**
 * Every channel at once on a real Samba share with a password: the webhook, a heartbeat, syslog over
 * UDP and TCP, the metrics file. The share stops and starts again, then a restore runs with the .pfx;
 * nothing any channel carried, nor the metrics file, nor the daemon's log and state files, holds the
 * share password, the .pfx password or the webhook secret.
 */
describe('every channel while the Samba share of the store stops and starts again', () => {
  let server: SambaServer;
  let daemon: TestDaemon;
  let deployment: Deployment;
  let hook: WebhookReceiver;
  let heartbeat: Receiver<string>;
  let udp: Receiver<string>;
  let tcp: Receiver<string>;
  let metrics: string;

  before(async () => {
    server = await SambaServer.start();
    mkdirSync(path.join(server.sharePath('backup'), 'east'), { recursive: true });
    spawnSync('chmod', ['-R', 'a+rwX', server.sharePath('backup')]);
    daemon = startDaemon();
    deployment = await createDeployment(daemon);
    await daemon.call('role.unregister', { Name: 'ECE' });
    await daemon.call('config.set', {
      Path: server.uncPath('backup', 'east'),
      UserName: `CONTOSO\\${server.user}`,
      Password: server.password,
    });
    [hook, heartbeat, udp, tcp] = await Promise.all([
      WebhookReceiver.start({ secret: WHSEC_SECRET }),
      startHttpReceiver(),
      startUdpReceiver(),
      startTcpReceiver(),
    ]);
    metrics = path.join(deployment.root, 'metrics');
    mkdirSync(metrics);
    await daemon.call('config.set', { MetricsPath: metrics });
    const targets = [
      { Name: 'ops', Kind: 'Webhook', Uri: hook.url, Secret: WHSEC_SECRET },
      { Name: 'ping', Kind: 'Heartbeat', Uri: `http://127.0.0.1:${heartbeat.port}/ping/abc` },
      { Name: 'syslog-udp', Kind: 'Syslog', Uri: `udp://127.0.0.1:${udp.port}` },
      { Name: 'syslog-tcp', Kind: 'Syslog', Uri: `tcp://127.0.0.1:${tcp.port}` },
    ] as const;
    for (const target of targets) await daemon.call('notification.add', target);
  });

  after(async () => {
    daemon?.stop();
    await Promise.all([hook?.close(), heartbeat?.close(), udp?.close(), tcp?.close()]);
    await server?.dispose();
    [daemon?.stateDir, deployment?.root].forEach((folder) => folder && removeDir(folder));
  });

  test('smbd stopped: alert.opened within 5 s; started again: alert.closed and backup.completed', async () => {
    await faultAndRepair(daemon, hook, { break: () => server.stop(), repair: () => server.launch() });
  });

  test('a restore with the .pfx is announced too', async () => {
    const [newest] = (await daemon.call('backup.list', { Top: 1 })).backups;
    await daemon.call('backup.restore', {
      Name: newest!.BackupId,
      DecryptionCertPath: deployment.pfxPath,
      DecryptionCertPassword: PFX_PASSWORD,
      Wait: true,
    });
    await waitUntil(
      () => hook.ofType('restore.completed').length === 1,
      'restore.completed received',
      10_000,
    );
    // Two backups, a restore and two alert changes on each syslog; a start and an end per backup.
    await waitUntil(
      () => udp.received.length >= 5 && tcp.received.length >= 5 && heartbeat.received.length >= 4,
      'every syslog line and heartbeat ping',
      10_000,
    );
  });

  test('no message, ping, syslog line, metric, log or state file holds the share password or another secret', () => {
    const stateFiles = readdirSync(daemon.stateDir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && /(\.log|\.json)$/.test(entry.name))
      .map((entry) => path.join(entry.parentPath, entry.name));
    const places: Place[] = [
      ...webhookPlaces(hook.messages),
      ...heartbeat.received.map((ping) => ({ place: `the heartbeat ping ${ping}`, text: ping })),
      ...[...udp.received, ...tcp.received].map((line) => ({ place: `the syslog line ${line}`, text: line })),
      { place: 'the metrics file', text: readFileSync(path.join(metrics, 'azsbackup.prom'), 'utf8') },
      ...stateFiles.map((file) => ({ place: file, text: readFileSync(file, 'utf8') })),
    ];
    assert.ok(
      stateFiles.some((file) => file.endsWith('daemon.log')),
      'the daemon log is among the places',
    );
    assert.deepEqual(secretsShown(places, [server.password, WHSEC_SECRET, WHSEC_KEY, PFX_PASSWORD]), []);
  });
});
