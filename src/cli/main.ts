#!/usr/bin/env node
/**
 * `azsbackup`: the daemon and its lifecycle, plus the operations non-PowerShell automation needs.
 * Exit codes (docs/cli.md): 0 success, 1 failure, 2 usage error, 3 daemon not running.
 */
import path from 'node:path';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { resolveStateDir } from '../util/platform.js';
import { platformSystemLog } from '../util/systemLog.js';
import { callDaemon, endpointOf, ensureRunning, queryStatus, stopDaemon } from './daemonProcess.js';
import { installModule, uninstallModule } from './moduleInstall.js';
import { STORE_SECRET_VARIABLE } from './secretInput.js';
import { DEFAULT_UNIT_DIR, installService, uninstallService } from './service.js';
import { backupCommands } from './commands/backups.js';
import {
  EXIT,
  errorOutput,
  print,
  readPfxPassword,
  withPasswordFile,
  withStateDir,
} from './commands/common.js';
import { recoveryCommands } from './commands/recovery.js';
import { statusCommands } from './commands/status.js';
import { Job } from '../protocol/objects.js';

/** The values of a union of literals in the protocol (a job's kinds, its outcomes): defined there once. */
function literalsOf<T extends string>(union: { anyOf: { const: T }[] }): T[] {
  return union.anyOf.map((member) => member.const);
}

const withDaemonOptions = <T>(args: Argv<T>) =>
  withStateDir(args)
    .option('location', { type: 'string', default: 'local', describe: 'Location name of a new deployment' })
    .option('test-hooks', {
      type: 'boolean',
      default: false,
      hidden: true,
      describe: 'Movable clock for tests',
    });

const cli = yargs(hideBin(process.argv)).scriptName('azsbackup');
await statusCommands(recoveryCommands(backupCommands(cli)))
  .command(
    'serve',
    'Run the daemon in the foreground',
    (args) =>
      withDaemonOptions(args).option('journal', {
        type: 'boolean',
        default: false,
        describe:
          'Also write each log line to stderr with its sd-daemon priority (<3> error, <4> warning, <6> info) for the systemd journal; the service unit passes it',
      }),
    async (argv) => {
      const { DaemonAlreadyRunning, serve } = await import('./daemonServe.js');
      try {
        await serve(
          resolveStateDir(argv.stateDir),
          argv.location,
          argv.testHooks,
          argv.journal ? platformSystemLog() : undefined,
        );
      } catch (error) {
        if (!(error instanceof DaemonAlreadyRunning)) throw error;
        process.stderr.write(`azsbackup: ${error.message} Stop it with 'azsbackup stop' first.\n`);
        process.exitCode = EXIT.failed;
      }
    },
  )
  .command(
    'start',
    'Start the daemon in the background unless one is running; print its endpoint',
    (args) => withDaemonOptions(args),
    async (argv) => {
      const endpoint = endpointOf(resolveStateDir(argv.stateDir));
      const status = await ensureRunning(endpoint, argv.location, argv.testHooks);
      print(
        argv.json,
        { ...endpoint, pid: status.pid, deploymentId: status.deploymentId },
        `Daemon running (pid ${status.pid}) on ${endpoint.socket}`,
      );
    },
  )
  .command(
    'status',
    'Show whether the daemon runs (exit code 3 when not)',
    (args) => withStateDir(args),
    async (argv) => {
      const endpoint = endpointOf(resolveStateDir(argv.stateDir));
      const status = await queryStatus(endpoint);
      if (!status) {
        print(argv.json, { running: false, ...endpoint }, `No daemon is running for ${endpoint.stateDir}.`);
        process.exitCode = EXIT.notRunning;
        return;
      }
      print(
        argv.json,
        { running: true, ...status },
        `Daemon running (pid ${status.pid}, deployment ${status.deploymentId}) on ${status.socket}`,
      );
    },
  )
  .command(
    'stop',
    'Stop the daemon',
    (args) => withStateDir(args),
    async (argv) => {
      const endpoint = endpointOf(resolveStateDir(argv.stateDir));
      const stopped = await stopDaemon(endpoint);
      print(
        argv.json,
        { stopped },
        stopped ? 'Daemon stopped.' : `No daemon was running for ${endpoint.stateDir}.`,
      );
    },
  )
  .command(
    'service <action>',
    'Install or remove the system service that keeps the daemon running across reboots',
    (args) =>
      withStateDir(args)
        .positional('action', { choices: ['install', 'uninstall'] as const, demandOption: true })
        .option('unit-dir', {
          type: 'string',
          default: DEFAULT_UNIT_DIR,
          describe: 'Where the systemd unit goes',
        }),
    async (argv) => {
      const stateDir = resolveStateDir(argv.stateDir);
      const result =
        argv.action === 'install'
          ? await installService(stateDir, argv.unitDir)
          : await uninstallService(stateDir);
      const todo = result.todo.length
        ? `\nsystemd is not running here; run: ${result.todo.join(' && ')}`
        : '';
      print(
        argv.json,
        result,
        `${argv.action === 'install' ? 'Installed' : 'Removed'} ${result.unit ?? 'nothing'}${todo}`,
      );
    },
  )
  .command(
    'module <action>',
    "Put this checkout's PowerShell module on the current user's PSModulePath, or take it off",
    (args) =>
      args
        .positional('action', { choices: ['install', 'uninstall'] as const, demandOption: true })
        .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object' }),
    async (argv) => {
      const links = argv.action === 'install' ? await installModule() : await uninstallModule();
      const lines = links.map(
        (entry) => `${entry.action}: ${entry.link}${entry.target ? ` -> ${entry.target}` : ''}`,
      );
      const next =
        argv.action === 'install' ? '\nIn a new PowerShell session: Import-Module AzureStackBackup' : '';
      print(argv.json, { links }, `${lines.join('\n')}${next}`);
    },
  )
  .command(
    'jobs',
    'List the job history (backup, restore, prune), newest first',
    (args) =>
      withStateDir(args)
        .option('top', { type: 'number', describe: 'Only the newest N jobs' })
        .option('outcome', {
          choices: literalsOf(Job.properties.Outcome),
          array: true,
          describe: 'Only the jobs of these outcomes',
        })
        .option('kind', {
          choices: literalsOf(Job.properties.Kind),
          array: true,
          describe: 'Only the jobs of these kinds',
        }),
    async (argv) => {
      const { jobs } = await callDaemon(argv.stateDir, 'job.list', {
        ...(argv.top === undefined ? {} : { Top: argv.top }),
        ...(argv.outcome?.length ? { Outcome: argv.outcome } : {}),
        ...(argv.kind?.length ? { Kind: argv.kind } : {}),
      });
      const lines = jobs.map(
        (job) =>
          `${job.StartTime}  ${job.Kind.padEnd(7)} ${job.Outcome.padEnd(16)} ${job.BackupId ?? ''}${job.ErrorMessage ? `  ${job.ErrorMessage}` : ''}`,
      );
      print(argv.json, { jobs }, lines.join('\n') || 'No jobs yet.');
    },
  )
  .command(
    'report',
    'Write the HTML report (backups, sizes, free space, alerts, certificate, schedule) to a file',
    (args) =>
      withStateDir(args)
        .option('out', { type: 'string', demandOption: true, describe: 'The .html file to write' })
        .option('force', { type: 'boolean', default: false, describe: 'Replace an existing file' }),
    async (argv) => {
      const report = await callDaemon(argv.stateDir, 'report.write', {
        OutFile: path.resolve(argv.out),
        Overwrite: argv.force,
      });
      print(
        argv.json,
        report,
        `Report written to ${report.Path} (${report.Backups} backups, ${report.ActiveAlerts} active alerts)`,
      );
    },
  )
  .command(
    'extract',
    'Decrypt a backup folder (on this machine or in a blob container) with the .pfx, without a daemon: each role to <out>/<RoleName>/',
    (args) =>
      withPasswordFile(args)
        .option('backup', {
          type: 'string',
          demandOption: true,
          describe:
            'The backup folder (MASBackup/<time>/<id>), or its URL in a blob container: https://<account>.blob.core.windows.net/<container>[/<prefix>]/MASBackup/<time>/<id>, without a query (the credential never goes in argv)',
        })
        .option('store-user', {
          type: 'string',
          describe:
            'For a container URL with an account key: the storage account name (default: the one the URL names)',
        })
        .option('store-password-file', {
          type: 'string',
          describe: `For a container URL: file holding its SAS token or account key (else ${STORE_SECRET_VARIABLE}, else a prompt)`,
        })
        .option('pfx', { type: 'string', demandOption: true, describe: "The encryption certificate's .pfx" })
        .option('out', { type: 'string', demandOption: true, describe: 'Folder to write the roles into' })
        .option('role', { type: 'string', describe: 'Only this role' })
        .option('json', { type: 'boolean', default: false }),
    async (argv) => {
      // Loaded here only: the archive, repository and role modules would cost every other command 0.08 s.
      const [{ containerBackupOf }, { extractBackup }] = await Promise.all([
        import('./containerBackup.js'),
        import('./extract.js'),
      ]);
      const container = await containerBackupOf(argv);
      const pfxPassword = await readPfxPassword(argv.pfx, argv.passwordFile);
      const roles = await extractBackup(
        {
          backupFolder: argv.backup,
          container,
          pfxPath: argv.pfx,
          pfxPassword,
          outDir: argv.out,
          roleName: argv.role,
        },
        (role) => argv.json || process.stderr.write(`extracting ${role}\n`),
      );
      print(
        argv.json,
        { roles },
        roles.map((role) => `${role.RoleName}: ${role.Entries} entries -> ${role.Folder}`).join('\n'),
      );
    },
  )
  .demandCommand(1)
  .strict()
  .fail((message, error, args) => {
    if (error) {
      process.stderr.write(`azsbackup: ${error.message}\n`);
      if (process.argv.includes('--json'))
        process.stdout.write(`${JSON.stringify({ error: errorOutput(error) })}\n`);
      process.exit(EXIT.failed);
    }
    process.stderr.write(`${args.help()}\n${message}\n`);
    process.exit(EXIT.usage);
  })
  .parseAsync();
