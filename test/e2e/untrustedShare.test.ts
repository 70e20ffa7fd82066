/**
 * The backup share is untrusted (docs/security.md, "Threat model"). A share writer edits a real
 * backup's manifest, or forges a complete backup with the public certificate; neither may register a
 * role, run a script, write outside a registered role's path, or make retention delete the real
 * newest backup. Real daemons, real certificates, real pwsh for the PowerShell roles.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Role } from '../../src/protocol/objects.js';
import { rejectsWith, removeDir, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { createDeployment, PFX_PASSWORD, type Deployment } from '../helpers/deployment.js';
import { cliMain } from '../helpers/pwsh.js';
import { backupFolderOf, editManifest, fileEntry, forgeBackup } from '../helpers/shareWriter.js';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A PowerShell role whose scripts leave `marker` behind: proof that they ran. */
function scriptedRole(name: string, marker: string): Role {
  return {
    Name: name,
    Provider: 'PowerShell',
    Path: null,
    BackupScript: `Set-Content -LiteralPath '${marker}' -Value backup`,
    RestoreScript: `Set-Content -LiteralPath '${marker}' -Value restore`,
    RegisteredTime: new Date().toISOString(),
  };
}

/**
 * A daemon and a deployment without its PowerShell role (ECE), given to `run`; both removed after.
 */
async function withDeployment(
  run: (daemon: TestDaemon, deployment: Deployment) => Promise<void>,
  daemonOptions: Parameters<typeof startDaemon>[0] = {},
): Promise<void> {
  const daemon = startDaemon(daemonOptions);
  const deployment = await createDeployment(daemon);
  try {
    await daemon.call('role.unregister', { Name: 'ECE' });
    await run(daemon, deployment);
  } finally {
    daemon.stop();
    [daemon.stateDir, deployment.root].forEach(removeDir);
  }
}

/** A folder of the deployment that no role holds, with one file that must stay. */
function victimFolder(deployment: Deployment): string {
  const victim = path.join(deployment.root, 'victim');
  mkdirSync(victim);
  writeFileSync(path.join(victim, 'keep.txt'), 'must stay');
  return victim;
}

const decryptionOf = (deployment: Deployment) => ({
  DecryptionCertPath: deployment.pfxPath,
  DecryptionCertPassword: PFX_PASSWORD,
});

describe('a share writer against a deployment', () => {
  test('a PowerShell role planted into a real backup: no restore registers it or runs its script, and Test-AzsBackup fails', async () => {
    await withDeployment(async (daemon, deployment) => {
      const marker = path.join(deployment.root, 'planted-script-ran');
      const decryption = decryptionOf(deployment);
      const backup = await daemon.call('backup.start', { Wait: true });
      assert.equal(backup.IsKnownToDeployment, true);
      editManifest(deployment.store, backup.BackupId, (manifest) =>
        manifest.Roles.push({
          Registration: scriptedRole('Planted', marker),
          Files: [],
          Entries: 0,
          SourceBytes: 0,
        }),
      );
      const [listed] = (await daemon.call('backup.list', {})).backups;
      assert.equal(listed!.IsKnownToDeployment, false, 'the manifest is no longer the one written');
      const { results } = await daemon.call('backup.test', { Name: backup.BackupId, ...decryption });
      assert.ok(results.length > 0);
      for (const result of results) {
        assert.equal(result.Status, 'Failed');
        assert.equal(result.File, 'BackupInfo.json');
        assert.match(result.ErrorMessage ?? '', /does not authenticate/);
      }
      for (const AcceptBackupRoles of [false, true])
        await assert.rejects(
          daemon.call('backup.restore', {
            Name: backup.BackupId,
            RoleName: 'CA',
            AcceptBackupRoles,
            Wait: true,
            ...decryption,
          }),
          rejectsWith('BackupCorrupt', /does not authenticate/),
        );
      assert.deepEqual((await daemon.call('role.list', {})).roles.map((role) => role.Name).sort(), [
        'CA',
        'WAS',
      ]);
      const out = path.join(deployment.root, 'extracted');
      const extract = spawnSync(
        process.execPath,
        [
          cliMain,
          'extract',
          '--backup',
          backupFolderOf(deployment.store, backup.BackupId),
          '--pfx',
          deployment.pfxPath,
          '--out',
          out,
          '--json',
        ],
        { encoding: 'utf8', env: { ...process.env, AZSBACKUP_PFX_PASSWORD: PFX_PASSWORD } },
      );
      assert.equal(extract.status, 1, extract.stderr);
      assert.equal(JSON.parse(extract.stdout).error.reason, 'BackupCorrupt');
      assert.equal(existsSync(out), false, 'azsbackup extract wrote nothing');
      await daemon.call('backup.start', { Wait: true });
      assert.equal(existsSync(marker), false, "the planted role's script never ran");
    });
  });

  test("a role's data moved under a new PowerShell role, or pointed at another path: refused before anything is written", async () => {
    await withDeployment(async (daemon, deployment) => {
      const marker = path.join(deployment.root, 'moved-script-ran');
      const victim = victimFolder(deployment);
      const decryption = decryptionOf(deployment);
      const backup = await daemon.call('backup.start', { Wait: true });
      const folder = backupFolderOf(deployment.store, backup.BackupId);
      renameSync(path.join(folder, 'CA', 'CA.azsb'), path.join(folder, 'CA', 'Moved.azsb'));
      renameSync(path.join(folder, 'CA'), path.join(folder, 'Moved'));
      editManifest(deployment.store, backup.BackupId, (manifest) => {
        const ca = manifest.Roles.find((role: { Registration: Role }) => role.Registration.Name === 'CA');
        ca.Registration = scriptedRole('Moved', marker);
        ca.Files[0].Path = 'Moved/Moved.azsb';
        ca.Files[0].FileId = `${backup.BackupId}/Moved`;
        const was = manifest.Roles.find((role: { Registration: Role }) => role.Registration.Name === 'WAS');
        was.Registration.Path = path.join(victim, 'keep.txt');
      });
      for (const RoleName of ['Moved', 'WAS'])
        await assert.rejects(
          daemon.call('backup.restore', {
            Name: backup.BackupId,
            RoleName,
            AcceptBackupRoles: true,
            Wait: true,
            ...decryption,
          }),
          rejectsWith('BackupCorrupt', /does not authenticate/),
        );
      assert.equal(existsSync(marker), false);
      assert.deepEqual(readdirSync(victim), ['keep.txt']);
      assert.deepEqual((await daemon.call('role.list', {})).roles.map((role) => role.Name).sort(), [
        'CA',
        'WAS',
      ]);
    });
  });

  test('a complete backup forged with the public .cer: not known; its roles are refused without -AcceptBackupRoles, restored with it', async () => {
    await withDeployment(async (daemon, deployment) => {
      const marker = path.join(deployment.root, 'forged-script-ran');
      const victim = victimFolder(deployment);
      const decryption = decryptionOf(deployment);
      const real = await daemon.call('backup.start', { Wait: true });
      const evil = scriptedRole('Evil', marker);
      const forged = await forgeBackup({
        store: deployment.store,
        cerPath: deployment.cerPath,
        location: 'local',
        created: new Date(Date.now() + 24 * 3600_000),
        roles: [
          {
            registration: {
              ...evil,
              Provider: 'Directory',
              Name: 'CA',
              Path: path.join(deployment.root, 'elsewhere'),
              BackupScript: null,
              RestoreScript: null,
            },
            entries: [fileEntry('forged.txt', 'forged CA data')],
          },
          {
            registration: {
              ...evil,
              Name: 'Planted',
              Provider: 'Directory',
              Path: victim,
              BackupScript: null,
              RestoreScript: null,
            },
            entries: [fileEntry('planted.txt', 'planted')],
          },
          { registration: evil, entries: [fileEntry('payload.txt', 'payload')] },
        ],
      });
      const known = Object.fromEntries(
        (await daemon.call('backup.list', {})).backups.map((backup) => [
          backup.BackupId,
          backup.IsKnownToDeployment,
        ]),
      );
      assert.deepEqual(known, { [forged]: false, [real.BackupId]: true });

      const plan = await daemon.call('backup.restorePlan', { Name: forged });
      assert.equal(plan.IsKnownToDeployment, false);
      assert.deepEqual(
        plan.Roles.map((role) => [role.RoleName, role.Registration, role.Path, role.RequiresAcceptance]),
        [
          ['CA', 'Registered', deployment.folder, false],
          ['Planted', 'Backup', victim, true],
          ['Evil', 'Backup', null, true],
        ],
      );
      assert.equal(plan.Roles[2]!.RestoreScriptSha256, sha256(evil.RestoreScript!));

      await assert.rejects(
        daemon.call('backup.restore', { Name: forged, Wait: true, ...decryption }),
        rejectsWith(
          'RolesNotAccepted',
          /not known to this deployment/,
          new RegExp(`Planted \\(Directory, path '${escape(victim)}'\\)`),
          new RegExp(
            `Evil \\(PowerShell, BackupScript SHA-256 ${sha256(evil.BackupScript!)}, RestoreScript SHA-256 ${sha256(evil.RestoreScript!)}\\)`,
          ),
          /-WhatIf/,
          /-AcceptBackupRoles/,
        ),
      );
      assert.deepEqual(readdirSync(victim), ['keep.txt']);
      assert.equal(existsSync(marker), false);
      assert.deepEqual((await daemon.call('role.list', {})).roles.map((role) => role.Name).sort(), [
        'CA',
        'WAS',
      ]);

      // A role registered here with the same provider restores through its own registration only.
      await daemon.call('backup.restore', { Name: forged, RoleName: 'CA', Wait: true, ...decryption });
      assert.deepEqual(readdirSync(deployment.folder), ['forged.txt']);
      assert.equal(existsSync(path.join(deployment.root, 'elsewhere')), false);

      const accepted = await daemon.call('backup.restore', {
        Name: forged,
        AcceptBackupRoles: true,
        Wait: true,
        ...decryption,
      });
      assert.deepEqual(accepted.RestoredRoles, ['CA', 'Planted', 'Evil']);
      assert.deepEqual(readdirSync(victim), ['planted.txt']);
      assert.equal(existsSync(marker), true, 'the accepted role restored through its script');
      assert.deepEqual((await daemon.call('role.list', {})).roles.map((role) => role.Name).sort(), [
        'CA',
        'Evil',
        'Planted',
        'WAS',
      ]);
    });
  });

  test('retention keeps the real newest recovery-ready backup when a newer forged one is on the store', async () => {
    await withDeployment(
      async (daemon, deployment) => {
        const flaky = path.join(deployment.root, 'data', 'Flaky');
        mkdirSync(flaky);
        writeFileSync(path.join(flaky, 'a.txt'), 'a');
        await daemon.call('role.register', { Name: 'Flaky', Provider: 'Directory', Path: flaky });
        await daemon.call('config.set', { IsBackupSchedulerEnabled: false, BackupRetentionPeriodInDays: 2 });
        const real = await daemon.call('backup.start', { Wait: true });
        assert.equal(real.IsCloudRecoveryReady, true);
        const now = new Date((await daemon.call('test.advanceClock', { Hours: 240 })).now);
        const forged = await forgeBackup({
          store: deployment.store,
          cerPath: deployment.cerPath,
          location: 'local',
          created: new Date(now.getTime() - 3600_000),
          roles: [
            {
              registration: {
                Name: 'CA',
                Provider: 'Directory',
                Path: deployment.folder,
                BackupScript: null,
                RestoreScript: null,
                RegisteredTime: now.toISOString(),
              },
              entries: [fileEntry('forged.txt', 'forged')],
            },
          ],
        });
        rmSync(flaky, { recursive: true });
        const partial = await daemon.call('backup.start', { Wait: true });
        assert.equal(partial.Status, 'PartialSucceeded');
        const listed = (await daemon.call('backup.list', {})).backups.map((backup) => backup.BackupId);
        assert.ok(listed.includes(real.BackupId), 'the real newest ready backup is kept');
        assert.ok(listed.includes(forged) && listed.includes(partial.BackupId));
      },
      { testHooks: true },
    );
  });
});
