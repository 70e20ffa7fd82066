/**
 * alerts.json is bounded: a closed alert is kept KEPT_CLOSED_ALERT_DAYS after it closed and dropped at
 * the next write after that; an active alert stays however old.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlertService, KEPT_CLOSED_ALERT_DAYS } from '../../src/engine/alerts.js';
import { StateDir } from '../../src/state/stateDir.js';
import { silentLogger } from '../../src/util/log.js';
import { removeDir, tempDir } from '../helpers/daemon.js';
import { DAY_MS } from '../../src/util/clock.js';

test(`closed alerts are dropped ${KEPT_CLOSED_ALERT_DAYS} days after they closed; active ones stay`, async () => {
  const folder = tempDir('alerts');
  try {
    const start = new Date('2026-01-01T00:00:00Z').getTime();
    let now = start;
    const alerts = new AlertService(await StateDir.open(folder), { now: () => new Date(now) }, silentLogger);
    await alerts.raise('StoreConnectivity', 'The share went away.');
    await alerts.raise('CertificateExpiring', 'The certificate expires soon.');
    await alerts.close(['StoreConnectivity']);
    const kinds = async () => (await alerts.list()).map((alert) => [alert.Title, alert.State]);
    const before = await kinds();
    assert.equal(before.length, 2);

    now = start + KEPT_CLOSED_ALERT_DAYS * DAY_MS;
    await alerts.raise('CertificateExpiring', 'The certificate expires sooner.');
    assert.deepEqual(await kinds(), before, 'closed exactly the bound ago: kept');

    now += 1;
    await alerts.raise('CertificateExpiring', 'The certificate expires sooner still.');
    assert.deepEqual(await kinds(), [before.find(([, state]) => state === 'Active')]);
  } finally {
    removeDir(folder);
  }
});
