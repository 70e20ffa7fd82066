/**
 * `azsbackup verify` and `azsbackup restore`: thin clients of backup.test, backup.restorePlan and
 * backup.restore. The .pfx password comes as for `extract`, never from argv.
 */
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Argv } from 'yargs';
import type { BackupTestResult, RestorePlan } from '../../protocol/objects.js';
import { callDaemon } from '../daemonProcess.js';
import { CliError, EXIT, print, readPfxPassword, warn, withPasswordFile, withStateDir } from './common.js';

export function recoveryCommands<T>(cli: Argv<T>): Argv<T> {
  return cli
    .command(
      'verify <backup>',
      'Verify a backup: every stored byte; with --pfx every chunk decrypted and authenticated too (exit code 1 when a role fails)',
      (args) =>
        withPasswordFile(withStateDir(args))
          .positional('backup', { type: 'string', demandOption: true, describe: 'Backup id or name' })
          .option('pfx', {
            type: 'string',
            describe: "The encryption certificate's .pfx, to decrypt as well",
          }),
      async (argv) => {
        const decryption = argv.pfx
          ? {
              DecryptionCertPath: path.resolve(argv.pfx),
              DecryptionCertPassword: await readPfxPassword(argv.pfx, argv.passwordFile),
            }
          : {};
        const { results } = await callDaemon(argv.stateDir, 'backup.test', {
          Name: argv.backup,
          ...decryption,
        });
        print(argv.json, { results }, results.map(testLine).join('\n'));
        if (results.some((result) => result.Status === 'Failed')) process.exitCode = EXIT.failed;
      },
    )
    .command(
      'restore <backup>',
      "Restore a backup's roles (all, or those --role names), replacing their current data (exit code 1 when a role is not restored)",
      (args) =>
        withPasswordFile(withStateDir(args))
          .positional('backup', { type: 'string', demandOption: true, describe: 'Backup id or name' })
          .option('pfx', {
            type: 'string',
            demandOption: true,
            describe: "The encryption certificate's .pfx",
          })
          .option('role', { type: 'string', array: true, nargs: 1, describe: 'Only this role (repeatable)' })
          .option('accept-backup-roles', {
            type: 'boolean',
            default: false,
            describe: "Adopt the backup's registrations of roles this deployment has not registered",
          })
          .option('yes', { type: 'boolean', default: false, describe: 'Do not ask for confirmation' }),
      async (argv) => {
        const roleNames = argv.role?.length ? { RoleName: argv.role } : {};
        if (!argv.yes) await confirmRestore(argv.stateDir, argv.backup, roleNames, argv.acceptBackupRoles);
        const result = await callDaemon(argv.stateDir, 'backup.restore', {
          Name: argv.backup,
          DecryptionCertPath: path.resolve(argv.pfx),
          DecryptionCertPassword: await readPfxPassword(argv.pfx, argv.passwordFile),
          ...roleNames,
          ...(argv.acceptBackupRoles ? { AcceptBackupRoles: true } : {}),
          Wait: true,
        });
        for (const failure of result.FailedRoles)
          warn(`role ${failure.RoleName} not restored (${failure.Reason}): ${failure.ErrorMessage}`);
        print(
          argv.json,
          result,
          `Restored from backup ${result.BackupId}: ${result.RestoredRoles.join(', ') || 'no role'}`,
        );
        if (result.FailedRoles.length) process.exitCode = EXIT.failed;
      },
    );
}

/** "CA: Succeeded" or "CA: Failed  CA/0.bin: <what is wrong>". */
function testLine(result: BackupTestResult): string {
  if (result.Status === 'Succeeded') return `${result.RoleName}: Succeeded`;
  return `${result.RoleName}: Failed  ${result.File ? `${result.File}: ` : ''}${result.ErrorMessage ?? ''}`;
}

/**
 * A restore replaces data, so a person confirms it after seeing what it would do; where nobody can
 * be asked (no terminal) it needs --yes, and fails before anything is touched.
 */
async function confirmRestore(
  stateDir: string | undefined,
  backup: string,
  roleNames: { RoleName?: string[] },
  accepted: boolean,
): Promise<void> {
  if (!process.stdin.isTTY)
    throw new CliError(
      'ConfirmationRequired',
      'A restore replaces the current data of its roles, and there is no terminal to confirm it on. Run it again with --yes to go ahead without confirmation.',
      'yes',
    );
  const plan = await callDaemon(stateDir, 'backup.restorePlan', { Name: backup, ...roleNames });
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await prompt
    .question(`${describePlan(plan, accepted)}\nRestore? [y/N] `)
    .finally(() => prompt.close());
  if (!/^y(es)?$/i.test(answer.trim()))
    throw new CliError('ConfirmationRequired', 'Restore not confirmed; nothing was changed.', 'yes');
}

/** The confirmation text, with the facts Restore-AzsBackup shows (module/Private/Recovery.ps1). */
function describePlan(plan: RestorePlan, accepted: boolean): string {
  const known = plan.IsKnownToDeployment
    ? 'a backup known to this deployment'
    : 'a backup NOT known to this deployment (this deployment did not write it, or it changed on the store)';
  const lines = plan.Roles.map((role) => {
    const facts: string[] = [role.Provider];
    facts.push(role.Path ? `replaces path '${role.Path}'` : 'restored by its RestoreScript');
    if (role.BackupScriptSha256) facts.push(`BackupScript SHA-256 ${role.BackupScriptSha256}`);
    if (role.RestoreScriptSha256) facts.push(`RestoreScript SHA-256 ${role.RestoreScriptSha256}`);
    let source =
      role.Registration === 'Backup' ? 'registration taken from the backup' : 'registered on this deployment';
    if (role.RequiresAcceptance)
      source += accepted ? ', accepted with --accept-backup-roles' : ', needs --accept-backup-roles';
    return `  ${role.RoleName}: ${facts.join(', ')} (${source})`;
  });
  return [
    `Restore ${plan.Roles.length} role(s) of backup ${plan.BackupId} from ${known}, replacing their current data:`,
    ...lines,
  ].join('\n');
}
