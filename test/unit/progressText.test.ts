/** The engine's progress events as the module's Write-Progress shows them: the text the cmdlets always showed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressText } from '../../src/daemon/dispatch.js';

test('a backup role reading bytes, and one done, read as before', () => {
  assert.deepEqual(
    progressText({ role: 'CA', phase: 'backingUp', bytes: 3 * 1048576, totalBytes: null, done: 1, total: 3 }),
    {
      activity: 'Backing up infrastructure roles',
      status: 'CA: Running, 3.0 MB read (1 of 3 roles done)',
      percentComplete: 33,
      roleName: 'CA',
    },
  );
  assert.deepEqual(
    progressText({ role: 'WAS', phase: 'backupFailed', bytes: 0, totalBytes: null, done: 2, total: 3 })
      .status,
    'WAS: Failed (2 of 3 roles done)',
  );
});

test('a restore role shows the stored bytes read of its total', () => {
  assert.deepEqual(
    progressText({ role: 'CA', phase: 'restoring', bytes: 0, totalBytes: 4 * 1048576, done: 0, total: 2 }),
    {
      activity: 'Restoring infrastructure roles',
      status: 'CA: restoring (0 of 2 roles done)',
      percentComplete: 0,
      roleName: 'CA',
    },
  );
  assert.equal(
    progressText({
      role: 'CA',
      phase: 'restoring',
      bytes: 1048576,
      totalBytes: 4 * 1048576,
      done: 1,
      total: 2,
    }).status,
    'CA: restoring, 1.0 of 4.0 MB read (1 of 2 roles done)',
  );
});
