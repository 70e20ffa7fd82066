/** `azsbackup alerts` and `azsbackup config show`: thin clients of alert.list and config.get. */
import type { Argv } from 'yargs';
import type { Alert } from '../../protocol/objects.js';
import { callDaemon } from '../daemonProcess.js';
import { print, warn, withStateDir } from './common.js';

export function statusCommands<T>(cli: Argv<T>): Argv<T> {
  return cli
    .command(
      'alerts',
      'List the alerts, newest first',
      (args) =>
        withStateDir(args).option('state', {
          choices: ['Active', 'Closed'] as const,
          describe: 'Only the alerts in this state',
        }),
      async (argv) => {
        const { alerts } = await callDaemon(
          argv.stateDir,
          'alert.list',
          argv.state ? { State: argv.state } : {},
        );
        print(argv.json, { alerts }, alerts.map(alertLines).join('\n') || 'No alerts.');
      },
    )
    .command(
      'config <action>',
      'Show the backup configuration and its warnings',
      (args) => withStateDir(args).positional('action', { choices: ['show'] as const, demandOption: true }),
      async (argv) => {
        const { location, warnings } = await callDaemon(argv.stateDir, 'config.get', {});
        if (!argv.json) warnings.forEach((warning) => warn(`warning: ${warning}`));
        const width = Math.max(...Object.keys(location).map((key) => key.length));
        const lines = Object.entries(location).map(([key, value]) => `${key.padEnd(width)}  ${value ?? ''}`);
        print(argv.json, { location, warnings }, lines.join('\n'));
      },
    );
}

/** The alert's first line, then what to do about it, indented. */
function alertLines(alert: Alert): string {
  return `${alert.CreatedTime}  ${alert.Severity.padEnd(8)} ${alert.State.padEnd(6)} ${alert.Title}\n    ${alert.Remediation}`;
}
