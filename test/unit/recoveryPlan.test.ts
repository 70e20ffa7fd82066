/**
 * Whose registration a restore uses for each role: a backup not known to this deployment restores
 * through this deployment's own registrations only; anything else needs the operator's acceptance.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ManifestRole } from '../../src/archive/manifest.js';
import { planRoles } from '../../src/engine/recovery.js';
import type { Role } from '../../src/protocol/objects.js';

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
