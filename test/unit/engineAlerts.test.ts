/** The engine's alert conditions with a fixed clock: a failed backup's alert, the scheduler's, the certificate's. */
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ALERT_RULES, failureAlertOf, type AlertKind } from '../../src/engine/alertRules.js';
import { AzsError } from '../../src/protocol/errors.js';
import { StoreError } from '../../src/storage/storeError.js';
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

describe('the remediation of a store failure alert', () => {
  const failure = (backend: 'share' | 'container') =>
    // As the engine meets it: the store's error advised, the store's facts kept as its cause.
    new AzsError('AuthenticationFailed', 'refused', {
      cause: new StoreError('AuthenticationFailed', 'refused', { facts: { backend } }),
    });

  test("speaks of a container's SAS token and key for a blob container, of the account for a share", () => {
    const container = failureAlertOf(failure('container'));
    assert.equal(container.kind, 'StoreAuthentication');
    assert.match(container.remediation, /SAS token.*account's current key/);
    assert.equal(failureAlertOf(failure('share')).remediation, ALERT_RULES.StoreAuthentication.remediation);
  });

  test("is the rule's own for a failure that is not the store's", () => {
    assert.deepEqual(failureAlertOf(new AzsError('BackupFailed', 'every role failed')), {
      kind: 'GeneralFault',
      remediation: ALERT_RULES.GeneralFault.remediation,
    });
  });
});
