/** The engine's alert conditions with a fixed clock: a failed backup's alert, the scheduler's, the certificate's. */
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ALERT_RULES, type AlertKind } from '../../src/engine/alertRules.js';
import { createEngine, type EngineFixture } from '../helpers/engine.js';

const kindOf = (title: string) =>
  (Object.keys(ALERT_RULES) as AlertKind[]).find((kind) => ALERT_RULES[kind].title === title);

describe('engine alerts', () => {
  let fixture: EngineFixture;
  const active = async () => (await fixture.engine.alerts.list('Active')).map((alert) => kindOf(alert.Title));

  before(async () => {
    fixture = await createEngine();
  });
  after(() => fixture.close());

  test('the scheduler switched off is a condition alert', async () => {
    await fixture.engine.housekeeping.evaluateConditions();
    assert.deepEqual(await active(), ['SchedulerDisabled']);
    await fixture.engine.setConfiguration({ IsBackupSchedulerEnabled: true });
    assert.deepEqual(await active(), []);
  });

  test('a backup whose store folder is gone raises StorePathFault; the next good backup closes it', async () => {
    renameSync(fixture.store, `${fixture.store}-moved`);
    await assert.rejects(fixture.engine.startBackup().done, { reason: 'PathNotFound' });
    assert.deepEqual(await active(), ['StorePathFault']);
    renameSync(`${fixture.store}-moved`, fixture.store);
    await fixture.engine.startBackup().done;
    assert.deepEqual(await active(), []);
  });

  test('a certificate that expires within 30 days raises CertificateExpiring, then CertificateExpired', async () => {
    fixture.clock.advanceHours(24 * 340);
    await fixture.engine.catchUp();
    assert.ok((await active()).includes('CertificateExpiring'));
    fixture.clock.advanceHours(24 * 30);
    await fixture.engine.catchUp();
    const kinds = await active();
    assert.ok(kinds.includes('CertificateExpired'));
    assert.ok(!kinds.includes('CertificateExpiring'));
    await assert.rejects(fixture.engine.startBackup().accepted, { reason: 'CertificateExpired' });
  });
});
