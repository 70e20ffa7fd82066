/**
 * The Heartbeat target through a real daemon: an HTTP listener on 127.0.0.1 records the pings in
 * the order they arrive. A good backup pings `/start` then the bare address, a backup that fails
 * (the store folder removed) `/start` then `/fail`, the test event `/log`; the query string stays.
 * A 503 is tried again; a listener that answers 404 (an unknown check) raises the
 * NotificationTargetRejected alert.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { TestDaemon } from '../helpers/daemon.js';
import { deploymentForSuite, withoutStore, type Deployment } from '../helpers/deployment.js';
import { startHttpReceiver, type Receiver } from '../helpers/receivers.js';
import { waitUntil } from '../helpers/waitUntil.js';

describe('heartbeat pings', () => {
  const suite = deploymentForSuite();
  let daemon: TestDaemon;
  let deployment: Deployment;
  let listener: Receiver<string>;
  const CHECK = '/ping/5f2c9e1a?rid=7';
  const ping = (suffix: string) => CHECK.replace('?', `${suffix}?`);

  before(async () => {
    let flakyAnswers = 0;
    listener = await startHttpReceiver((path) => {
      if (path.startsWith('/unknown')) return 404;
      if (path.startsWith('/flaky')) return (flakyAnswers += 1) === 1 ? 503 : 200;
      return 200;
    });
    ({ daemon } = suite());
    await daemon.call('notification.add', {
      Name: 'healthcheck',
      Kind: 'Heartbeat',
      Uri: `http://127.0.0.1:${listener.port}${CHECK}`,
    });
  });
  after(() => listener?.close());
  beforeEach(() => {
    ({ daemon, deployment } = suite());
    listener.received.length = 0;
  });

  /** The pings of one backup, once its start and end pings arrived. */
  async function pingsOfOneBackup(): Promise<string[]> {
    await waitUntil(() => listener.received.length >= 2, 'the start and end pings', 10_000);
    return [...listener.received];
  }

  test('a good backup: /start, then the bare address', async () => {
    assert.equal((await daemon.call('backup.start', { Wait: true })).Status, 'Succeeded');
    assert.deepEqual(await pingsOfOneBackup(), [ping('/start'), CHECK]);
  });

  test('a failed backup (store folder removed): /start, then /fail', async () => {
    await withoutStore(deployment, () => assert.rejects(daemon.call('backup.start', { Wait: true })));
    assert.deepEqual(await pingsOfOneBackup(), [ping('/start'), ping('/fail')]);
  });

  test('the test event goes to /log and returns what the listener answered', async () => {
    const answer = await daemon.call('notification.test', { Name: 'healthcheck' });
    assert.equal(answer.Succeeded, true);
    assert.equal(answer.StatusCode, 200);
    assert.equal(answer.Response, 'OK');
    assert.deepEqual(listener.received, [ping('/log')]);
  });

  test('a 503 is tried again: the start ping arrives twice, the end ping once, in order', async () => {
    await daemon.call('notification.add', {
      Name: 'flaky-check',
      Kind: 'Heartbeat',
      Uri: `http://127.0.0.1:${listener.port}/flaky`,
    });
    try {
      assert.equal((await daemon.call('backup.start', { Wait: true })).Status, 'Succeeded');
      const flaky = () => listener.received.filter((path) => path.startsWith('/flaky'));
      await waitUntil(() => flaky().length >= 3, 'the retried start ping and the end ping', 10_000);
      assert.deepEqual(flaky(), ['/flaky/start', '/flaky/start', '/flaky']);
    } finally {
      await daemon.call('notification.remove', { Name: 'flaky-check' });
    }
  });

  test('a check the service does not know (404) raises the rejected-target alert', async () => {
    await daemon.call('notification.add', {
      Name: 'unknown-check',
      Kind: 'Heartbeat',
      Uri: `http://127.0.0.1:${listener.port}/unknown`,
    });
    try {
      await daemon.call('backup.start', { Wait: true });
      await waitUntil(
        () => listener.received.includes('/unknown'),
        'the end ping to the unknown check',
        10_000,
      );
      const refused = async () =>
        (await daemon.call('alert.list', {})).alerts.some((alert) =>
          /notification target refuses/.test(alert.Title),
        );
      const deadline = Date.now() + 10_000;
      while (!(await refused()) && Date.now() < deadline) await sleep(100);
      assert.ok(await refused(), 'no NotificationTargetRejected alert within 10 s');
    } finally {
      await daemon.call('notification.remove', { Name: 'unknown-check' });
    }
  });
});
