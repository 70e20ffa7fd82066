/**
 * The main operations through `azsbackup` against a real daemon and deployment, as automation
 * without PowerShell runs them: backup → list → verify → restore → alerts → config show, each with
 * its --json object and exit code, and the failures a script must be able to tell apart.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Alert, Backup, BackupLocation, BackupTestResult } from '../../src/protocol/objects.js';
import { waitForIdle } from '../helpers/daemon.js';
import { deploymentForSuite, flipByte, PFX_PASSWORD, roleFile, withoutStore } from '../helpers/deployment.js';
import { cliMain } from '../helpers/pwsh.js';

const suite = deploymentForSuite();

/** Runs azsbackup on the suite's state folder, stdin not a terminal, with no .pfx password unless given. */
function azsbackup(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [cliMain, ...args, '--state-dir', suite().daemon.stateDir], {
    encoding: 'utf8',
    env: { ...process.env, AZSBACKUP_PFX_PASSWORD: '', ...env },
  });
  return { ...result, json: () => JSON.parse(result.stdout) as Record<string, unknown> };
}

/** Runs it with --json, checks the exit code, and returns the one JSON object it printed. */
function json<T>(args: string[], status: number, env: Record<string, string> = {}): T {
  const result = azsbackup([...args, '--json'], env);
  assert.equal(result.status, status, `exit code of azsbackup ${args.join(' ')}: ${result.stderr}`);
  assert.equal(result.stdout.trim().split('\n').length, 1, 'one JSON object on stdout');
  return JSON.parse(result.stdout) as T;
}

type ErrorOutput = { error: { reason: string; message: string; parameter: string | null } };
const withPassword = { AZSBACKUP_PFX_PASSWORD: PFX_PASSWORD };

describe('azsbackup backup, list, verify, restore, alerts, config show', () => {
  let first: Backup;
  let second: Backup;

  test('backup waits and prints the finished backup; --no-wait returns the running one', async () => {
    first = json<Backup>(['backup'], 0);
    assert.equal(first.Status, 'Succeeded');
    assert.deepEqual(
      first.RoleStatus.map((role) => [role.RoleName, role.Status]),
      [
        ['CA', 'Succeeded'],
        ['WAS', 'Succeeded'],
      ],
    );
    const started = json<Backup>(['backup', '--no-wait'], 0);
    assert.notEqual(started.BackupId, first.BackupId);
    assert.ok(!['Succeeded', 'PartialSucceeded', 'Failed'].includes(started.Status), started.Status);
    await waitForIdle(suite().daemon);
    second = started;
  });

  test('list: every backup newest first, --name, --top and --skip; text names each backup', () => {
    const { backups } = json<{ backups: Backup[] }>(['list'], 0);
    assert.deepEqual(
      backups.map((backup) => backup.BackupId),
      [second.BackupId, first.BackupId],
    );
    assert.equal(backups[0]!.Status, 'Succeeded', 'the --no-wait backup has finished');
    const named = json<{ backups: Backup[] }>(['list', '--name', first.BackupId], 0).backups;
    assert.deepEqual(
      named.map((backup) => backup.BackupId),
      [first.BackupId],
    );
    const page = json<{ backups: Backup[] }>(['list', '--skip', '1', '--top', '1'], 0).backups;
    assert.deepEqual(
      page.map((backup) => backup.BackupId),
      [first.BackupId],
    );
    const text = azsbackup(['list']);
    assert.equal(text.status, 0);
    assert.match(text.stdout, new RegExp(`Succeeded\\s+${second.BackupId}`));
  });

  test('verify: the stored bytes without --pfx; decrypted too with the password from the environment or a file', () => {
    const root = suite().deployment.root;
    const { pfxPath } = suite().deployment;
    const stored = json<{ results: BackupTestResult[] }>(['verify', first.BackupId], 0).results;
    assert.deepEqual(
      stored.map((result) => [result.RoleName, result.Status]),
      [
        ['CA', 'Succeeded'],
        ['WAS', 'Succeeded'],
      ],
    );
    const decrypted = json<{ results: BackupTestResult[] }>(
      ['verify', first.BackupId, '--pfx', pfxPath],
      0,
      withPassword,
    );
    assert.ok(decrypted.results.every((result) => result.Status === 'Succeeded'));
    const passwordFile = path.join(root, 'pfx-password.txt');
    writeFileSync(passwordFile, `${PFX_PASSWORD}\n`, { mode: 0o600 });
    const relativePfx = path.relative(process.cwd(), pfxPath);
    const fromFile = azsbackup([
      'verify',
      first.BackupId,
      '--pfx',
      relativePfx,
      '--password-file',
      passwordFile,
    ]);
    assert.equal(fromFile.status, 0, fromFile.stderr);
    assert.match(fromFile.stdout, /^CA: Succeeded\nWAS: Succeeded\n$/);
    writeFileSync(passwordFile, 'not-the-password\n');
    const wrong = json<ErrorOutput>(
      ['verify', first.BackupId, '--pfx', pfxPath, '--password-file', passwordFile],
      1,
    );
    assert.equal(wrong.error.reason, 'DecryptionFailed', wrong.error.message);
  });

  test('verify and restore take the .pfx password from no option, and never without one when nobody can be asked', () => {
    const { pfxPath } = suite().deployment;
    for (const command of ['verify', 'restore']) {
      const flagged = azsbackup([
        command,
        first.BackupId,
        '--pfx',
        pfxPath,
        '--password',
        PFX_PASSWORD,
        '--yes',
      ]);
      assert.equal(flagged.status, 2, `${command} --password is a usage error`);
      assert.match(flagged.stderr, /Unknown arguments?: password\b/);
    }
    const none = json<ErrorOutput>(['verify', first.BackupId, '--pfx', pfxPath], 1);
    assert.equal(none.error.reason, 'InvalidParameter');
    assert.equal(none.error.parameter, 'password');
    assert.match(none.error.message, /AZSBACKUP_PFX_PASSWORD.*--password-file/);
  });

  test('a backup name that matches nothing: exit code 1 and the daemon reason', () => {
    for (const command of [['verify'], ['restore', '--yes', '--pfx', suite().deployment.pfxPath]]) {
      const [name, ...options] = command;
      const missing = json<ErrorOutput>([name!, 'no-such-backup', ...options], 1, withPassword);
      assert.equal(missing.error.reason, 'BackupNotFound');
      assert.equal(missing.error.parameter, 'Name');
      assert.match(missing.error.message, /no-such-backup/);
    }
  });

  test('restore off a terminal needs --yes and changes nothing without it; with it every role comes back', () => {
    const { folder, pfxPath } = suite().deployment;
    const config = path.join(folder, 'nested', 'config.json');
    const original = readFileSync(config, 'utf8');
    writeFileSync(config, '{"changed":true}');
    const refused = json<ErrorOutput>(['restore', first.BackupId, '--pfx', pfxPath], 1, withPassword);
    assert.equal(refused.error.reason, 'ConfirmationRequired');
    assert.equal(refused.error.parameter, 'yes');
    assert.match(refused.error.message, /--yes/);
    assert.equal(readFileSync(config, 'utf8'), '{"changed":true}', 'nothing restored without --yes');
    const restored = json<{ BackupId: string; RestoredRoles: string[]; FailedRoles: unknown[] }>(
      ['restore', first.BackupId, '--pfx', pfxPath, '--yes'],
      0,
      withPassword,
    );
    assert.deepEqual(restored, { BackupId: first.BackupId, RestoredRoles: ['CA', 'WAS'], FailedRoles: [] });
    assert.equal(readFileSync(config, 'utf8'), original);
    writeFileSync(config, '{"changed":true}');
    const one = azsbackup(
      ['restore', '--role', 'CA', first.BackupId, '--pfx', pfxPath, '--yes'],
      withPassword,
    );
    assert.equal(one.status, 0, one.stderr);
    assert.equal(one.stdout, `Restored from backup ${first.BackupId}: CA\n`);
    assert.equal(readFileSync(config, 'utf8'), original);
  });

  test('a corrupted role: verify exits 1 naming it; restore restores the other role and exits 1', () => {
    const { store, pfxPath } = suite().deployment;
    flipByte(roleFile(store, second.BackupId, 'CA'), 4000);
    const { results } = json<{ results: BackupTestResult[] }>(['verify', second.BackupId], 1);
    assert.deepEqual(
      results.map((result) => [result.RoleName, result.Status]),
      [
        ['CA', 'Failed'],
        ['WAS', 'Succeeded'],
      ],
    );
    const restore = azsbackup(
      ['restore', second.BackupId, '--pfx', pfxPath, '--yes', '--json'],
      withPassword,
    );
    assert.equal(restore.status, 1, restore.stderr);
    const result = restore.json() as { RestoredRoles: string[]; FailedRoles: Array<{ RoleName: string }> };
    assert.deepEqual(result.RestoredRoles, ['WAS']);
    assert.deepEqual(
      result.FailedRoles.map((failure) => failure.RoleName),
      ['CA'],
    );
    assert.match(restore.stderr, /role CA not restored \(BackupCorrupt\)/);
  });

  test('a failing backup exits 1: a failed role (the backup printed, the role on stderr), a store that is gone (the reason)', async () => {
    const { folder } = suite().deployment;
    renameSync(folder, `${folder}.away`);
    let partial: ReturnType<typeof azsbackup>;
    try {
      partial = azsbackup(['backup', '--json']);
    } finally {
      renameSync(`${folder}.away`, folder);
    }
    assert.equal(partial.status, 1, partial.stderr);
    assert.equal((partial.json() as Backup).Status, 'PartialSucceeded');
    assert.match(partial.stderr, /role CA failed: /);
    const failed = await withoutStore(suite().deployment, async () => azsbackup(['backup', '--json']));
    assert.equal(failed.status, 1, failed.stderr);
    const { error } = failed.json() as ErrorOutput;
    assert.notEqual(error.reason, 'InternalError', error.message);
    assert.ok(failed.stderr.includes(`azsbackup: ${error.message}`), failed.stderr);
  });

  test('alerts: the failed role raised one, --state filters, text shows what to do', () => {
    const { alerts } = json<{ alerts: Alert[] }>(['alerts', '--state', 'Active'], 0);
    assert.ok(alerts.length > 0);
    assert.ok(alerts.every((alert) => alert.State === 'Active'));
    const roleAlert = alerts.find((alert) => /CA/.test(alert.Description));
    assert.ok(roleAlert, alerts.map((alert) => alert.Title).join('; '));
    const closed = json<{ alerts: Alert[] }>(['alerts', '--state', 'Closed'], 0).alerts;
    assert.ok(closed.every((alert) => alert.State === 'Closed'));
    assert.equal(azsbackup(['alerts', '--state', 'Open']).status, 2, 'a state that does not exist');
    const text = azsbackup(['alerts']);
    assert.equal(text.status, 0);
    assert.ok(text.stdout.includes(`${roleAlert.Title}\n    ${roleAlert.Remediation}`), text.stdout);
  });

  test('config show: the configuration and its warnings', () => {
    const { location, warnings } = json<{ location: BackupLocation; warnings: string[] }>(
      ['config', 'show'],
      0,
    );
    assert.equal(location.Path, suite().deployment.store);
    assert.equal(location.Password, null);
    assert.ok(
      warnings.some((warning) => warning.includes('azsbackup service install')),
      'the scheduler is on and no service keeps the daemon running',
    );
    const text = azsbackup(['config', 'show']);
    assert.equal(text.status, 0);
    assert.match(text.stdout, new RegExp(`^Path\\s+${suite().deployment.store}$`, 'm'));
    for (const warning of warnings) assert.ok(text.stderr.includes(`warning: ${warning}`));
    assert.equal(azsbackup(['config', 'set']).status, 2, 'show is the only action');
  });
});
