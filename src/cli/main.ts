#!/usr/bin/env node
/**
 * `azsbackup`: the daemon and its lifecycle, plus the operations non-PowerShell automation needs.
 * Exit codes (docs/cli.md): 0 success, 1 failure, 2 usage error, 3 daemon not running.
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { resolveStateDir } from '../util/platform.js';
import {
  DaemonAlreadyRunning,
  endpointOf,
  ensureRunning,
  queryStatus,
  serve,
  stopDaemon,
} from './daemonProcess.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, notRunning: 3 } as const;

const withStateDir = <T>(args: Argv<T>) =>
  args
    .option('state-dir', {
      type: 'string',
      describe: 'State folder of the deployment (default: AZSBACKUP_HOME or the per-user folder)',
    })
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object' });

function print(json: boolean, value: object, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

await yargs(hideBin(process.argv))
  .scriptName('azsbackup')
  .command(
    'serve',
    'Run the daemon in the foreground',
    (args) =>
      withStateDir(args).option('location', {
        type: 'string',
        default: 'local',
        describe: 'Location name of a new deployment',
      }),
    async (argv) => {
      try {
        await serve(resolveStateDir(argv.stateDir), argv.location);
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
    (args) => withStateDir(args).option('location', { type: 'string', default: 'local' }),
    async (argv) => {
      const endpoint = endpointOf(resolveStateDir(argv.stateDir));
      const status = await ensureRunning(endpoint, argv.location);
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
  .demandCommand(1)
  .strict()
  .fail((message, error, args) => {
    if (error) {
      process.stderr.write(`azsbackup: ${error.message}\n`);
      process.exit(EXIT.failed);
    }
    process.stderr.write(`${args.help()}\n${message}\n`);
    process.exit(EXIT.usage);
  })
  .parseAsync();
