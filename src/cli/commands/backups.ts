/** `azsbackup backup` and `azsbackup list`: thin clients of backup.start and backup.list. */
import type { Argv } from 'yargs';
import type { Backup } from '../../protocol/objects.js';
import { formatCapacity } from '../../util/format.js';
import { callDaemon } from '../daemonProcess.js';
import { EXIT, print, warn, withStateDir } from './common.js';

export function backupCommands<T>(cli: Argv<T>): Argv<T> {
  return cli
    .command(
      'backup',
      'Back up every registered role and wait for it to end (exit code 1 unless every role succeeded)',
      (args) =>
        withStateDir(args).option('wait', {
          type: 'boolean',
          default: true,
          describe:
            'Wait for the end; --no-wait returns the running backup at once and it goes on in the daemon',
        }),
      async (argv) => {
        const backup = await callDaemon(argv.stateDir, 'backup.start', { Wait: argv.wait });
        for (const role of backup.RoleStatus.filter((entry) => entry.Status === 'Failed'))
          warn(`role ${role.RoleName} failed: ${role.ErrorMessage ?? 'no reason given'}`);
        print(argv.json, backup, backupLine(backup));
        if (argv.wait && backup.Status !== 'Succeeded') process.exitCode = EXIT.failed;
      },
    )
    .command(
      'list',
      'List the backups on the store, newest first',
      (args) =>
        withStateDir(args)
          .option('name', {
            type: 'string',
            describe: 'Only backups whose name or id matches (wildcards allowed)',
          })
          .option('top', { type: 'number', describe: 'Only the first N backups' })
          .option('skip', { type: 'number', describe: 'Leave out the first N backups' }),
      async (argv) => {
        const { backups } = await callDaemon(argv.stateDir, 'backup.list', {
          ...(argv.name === undefined ? {} : { Name: argv.name }),
          ...(argv.top === undefined ? {} : { Top: argv.top }),
          ...(argv.skip === undefined ? {} : { Skip: argv.skip }),
        });
        print(argv.json, { backups }, backups.map(backupLine).join('\n') || 'No backups on the store.');
      },
    );
}

/** "2026-12-05T03:00:00.000Z  Succeeded        <id>  1.20 MB stored" (+ a mark for a backup of another deployment). */
function backupLine(backup: Backup): string {
  const stored = formatCapacity(backup.CompressedBackupSizeInKb * 1024);
  const foreign = backup.IsKnownToDeployment ? '' : '  (not written by this deployment)';
  return `${backup.CreatedDateTime}  ${backup.Status.padEnd(16)} ${backup.BackupId}  ${stored} stored${foreign}`;
}
