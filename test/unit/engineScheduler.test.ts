/** The engine's scheduler with a fixed clock: a due slot starts an automatic backup, a slot it cannot take is Skipped. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createEngine, type EngineFixture } from '../helpers/engine.js';
import { waitUntil } from '../helpers/waitUntil.js';

describe('engine scheduler', () => {
  let fixture: EngineFixture;

  before(async () => {
    fixture = await createEngine({ scheduler: true });
  });
  after(() => fixture.close());

  test('nothing is due before the first slot, one full period after the scheduler was enabled', async () => {
    fixture.clock.advanceHours(11);
    await fixture.engine.catchUp();
    assert.equal(fixture.engine.jobs.current, null);
    assert.deepEqual(await fixture.engine.history.find({ Kind: ['Backup'] }), []);
  });

  test('a due slot starts an automatic backup', async () => {
    fixture.clock.advanceHours(1);
    await fixture.engine.catchUp();
    await waitUntil(() => fixture.engine.jobs.current === null, 'the automatic backup ending');
    const [job] = await fixture.engine.history.find({ Kind: ['Backup'] });
    assert.equal(job!.IsAutomatic, true);
    assert.equal(job!.Outcome, 'Succeeded');
  });

  test('a due slot with the scheduler off is recorded Skipped', async () => {
    await fixture.engine.setConfiguration({ IsBackupSchedulerEnabled: false });
    fixture.clock.advanceHours(12);
    await fixture.engine.catchUp();
    const [job] = await fixture.engine.history.find({ Kind: ['Backup'] });
    assert.equal(job!.Outcome, 'Skipped');
    assert.equal(job!.IsAutomatic, true);
    assert.equal(job!.StartTime, job!.EndTime);
    assert.match(job!.ErrorMessage!, /skipped: The scheduler is disabled\./);
  });
});
