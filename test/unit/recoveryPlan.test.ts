/**
 * Whose registration a restore uses for each role: a backup not known to this deployment restores
 * through this deployment's own registrations only; anything else needs the operator's acceptance,
 * and is adopted only when it is a registration this deployment would accept.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ManifestRole } from '../../src/archive/manifest.js';
import { planRoles } from '../../src/engine/recoveryPlan.js';
import { RoleService } from '../../src/engine/roles.js';
import { isAzsError } from '../../src/protocol/errors.js';
import type { Role } from '../../src/protocol/objects.js';
import { StateDir } from '../../src/state/stateDir.js';
import { systemClock } from '../../src/util/clock.js';
import { removeDir, tempDir } from '../helpers/daemon.js';

const role = (name: string, provider: Role['Provider'], rolePath: string | null): Role => ({
  Name: name,
  Provider: provider,
  Path: rolePath,
  BackupScript: provider === 'PowerShell' ? 'Backup-It' : null,
  RestoreScript: provider === 'PowerShell' ? 'Restore-It' : null,
  RegisteredTime: '2026-11-01T08:00:00.000Z',
});
const inBackup = (registration: Role): ManifestRole => ({
  Registration: registration,
  Files: [],
  Entries: 0,
  SourceBytes: 0,
});

const backup = [
  inBackup(role('CA', 'Directory', '/etc')),
  inBackup(role('WAS', 'Sqlite', '/srv/was.db')),
  inBackup(role('ECE', 'PowerShell', null)),
];
const registered = [role('ca', 'Directory', '/srv/ca'), role('WAS', 'PowerShell', null)];

const summary = (isKnown: boolean) =>
  planRoles(backup, registered, isKnown).map((plan) => [
    plan.role.Registration.Name,
    plan.source,
    plan.registration.Path,
    plan.requiresAcceptance,
  ]);

test('a backup not known here: same name and provider uses the current registration; others need acceptance', () => {
  assert.deepEqual(summary(false), [
    ['CA', 'Registered', '/srv/ca', false],
    ['WAS', 'Backup', '/srv/was.db', true],
    ['ECE', 'Backup', null, true],
  ]);
});

test("a known backup: registered roles keep their registration, missing ones adopt the backup's", () => {
  assert.deepEqual(summary(true), [
    ['CA', 'Registered', '/srv/ca', false],
    ['WAS', 'Registered', null, false],
    ['ECE', 'Backup', null, false],
  ]);
});

test('adopting registrations from a backup: they replace same-name ones, and a registration Register-AzsInfrastructureRole refuses is not adopted', async () => {
  const folder = tempDir('adopt');
  try {
    const roles = new RoleService(await StateDir.open(folder), systemClock);
    await roles.adopt([role('CA', 'Directory', '/srv/ca'), role('WAS', 'Sqlite', '/srv/was.db')]);
    await roles.adopt([role('ca', 'PowerShell', null)]);
    assert.deepEqual(
      (await roles.list()).map((saved) => [saved.Name, saved.Provider]),
      [
        ['WAS', 'Sqlite'],
        ['ca', 'PowerShell'],
      ],
    );
    for (const refused of [role('Relative', 'Directory', 'srv/x'), role('../x', 'Directory', '/srv/x')])
      await assert.rejects(
        roles.adopt([role('Fine', 'Directory', '/srv/fine'), refused]),
        (error: unknown) => {
          assert.ok(isAzsError(error, 'BackupCorrupt'), String(error));
          assert.match(error.message, /Register-AzsInfrastructureRole refuses/);
          return true;
        },
      );
    assert.equal((await roles.list()).length, 2, 'nothing adopted when one registration is refused');
  } finally {
    removeDir(folder);
  }
});
