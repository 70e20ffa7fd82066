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

test('a restore verifying, then restoring, reads as before', () => {
  assert.deepEqual(
    progressText({ role: 'CA', phase: 'verifying', bytes: 0, totalBytes: null, done: 1, total: 2 }),
    {
      activity: 'Verifying the backup before restoring',
      status: 'CA: verifying',
      percentComplete: 50,
      roleName: 'CA',
    },
  );
  assert.deepEqual(
    progressText({ role: 'CA', phase: 'restoring', bytes: 0, totalBytes: null, done: 0, total: 2 }),
    {
      activity: 'Restoring infrastructure roles',
      status: 'CA: restoring',
      percentComplete: 0,
      roleName: 'CA',
    },
  );
});
