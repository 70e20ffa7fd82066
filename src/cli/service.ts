/**
 * `azsbackup service install|uninstall`: keeps the daemon running across reboots, so scheduled
 * backups happen. On Linux a systemd unit; on Windows a service created with sc.exe (documented in
 * docs/platforms.md, not tested here). The unit's location is recorded in the state folder, which
 * is how Get-AzsBackupConfiguration knows whether anything keeps the daemon alive. The unit runs
 * `serve --journal`, so the journal keeps each log line's priority (src/util/systemLog.ts).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StateLayout } from '../state/layout.js';
import type { ServiceRecord } from '../state/stateDir.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import { ENGINE_SETTINGS } from '../util/environment.js';
import { isWindows } from '../util/platform.js';
import { DAEMON_ENVIRONMENT, DAEMON_NODE_ARGUMENTS } from './daemonProcess.js';

export const DEFAULT_UNIT_DIR = '/etc/systemd/system';

export function unitName(stateDir: string): string {
  return `azsbackup-${createHash('sha256').update(stateDir).digest('hex').slice(0, 12)}.service`;
}

// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL_CHARACTERS = /[\x00-\x1f\x7f]/g;

/**
 * A value as a quoted word of a unit file must hold it (systemd.syntax(7)) to reach the daemon
 * unchanged, whatever it is (a state folder `/srv/backup "night" 100%`, say): in a quoted word `\`
 * and `"` are escaped and C escapes apply, so a control character is written as one; `%` starts a
 * specifier, so it is doubled.
 */
function unitValue(value: string): string {
  return value
    .replace(/[\\"]/g, '\\$&')
    .replace(CONTROL_CHARACTERS, (character) => `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(/%/g, '%%');
}

/** One quoted word of a command line (ExecStart=), where `$` starts a variable: doubled too. */
const commandWord = (word: string) => `"${unitValue(word).replace(/\$/g, '$$$$')}"`;

/** One quoted assignment of Environment=. */
const environmentLine = (name: string, value: string) => `Environment="${unitValue(`${name}=${value}`)}"\n`;

export function unitText(stateDir: string): string {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const command = [
    process.execPath,
    ...DAEMON_NODE_ARGUMENTS,
    main,
    'serve',
    '--state-dir',
    stateDir,
    '--journal',
  ];
  const environment = {
    AZSBACKUP_HOME: stateDir,
    ...DAEMON_ENVIRONMENT,
    ...installersSettings(),
    ...(process.env.DOTNET_ROOT ? { DOTNET_ROOT: process.env.DOTNET_ROOT } : {}),
    PATH: process.env.PATH ?? '/usr/bin:/bin',
  };
  return `[Unit]
Description=AzureStackBackup daemon for ${stateDir.replace(/%/g, '%%').replace(CONTROL_CHARACTERS, ' ')}
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${command.map(commandWord).join(' ')}
Restart=on-failure
SyslogIdentifier=azsbackup
RestartSec=5
${Object.entries(environment)
  .map(([name, value]) => environmentLine(name, value))
  .join('')}UMask=0077

[Install]
WantedBy=multi-user.target
`;
}

/**
 * The engine's settings the installing shell has (AZSBACKUP_FORMAT, AZSBACKUP_LOG_LEVEL, …): the
 * service runs as `azsbackup start` would have run the daemon from there. Its state folder is the
 * unit's own.
 */
function installersSettings(): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const name of ENGINE_SETTINGS) {
    const value = process.env[name];
    if (name !== 'AZSBACKUP_HOME' && value) settings[name] = value;
  }
  return settings;
}

/** Runs systemctl when systemd runs this machine; says what to run otherwise. */
function systemctl(args: string[]): string | null {
  const result = spawnSync('systemctl', args, { encoding: 'utf8' });
  if (result.error || result.status !== 0) return `systemctl ${args.join(' ')}`;
  return null;
}

export async function installService(
  stateDir: string,
  unitDir = DEFAULT_UNIT_DIR,
): Promise<{ unit: string; todo: string[] }> {
  if (isWindows)
    throw new Error('On Windows create the service as docs/platforms.md shows (sc.exe create …).');
  const unit = path.join(unitDir, unitName(stateDir));
  await mkdir(unitDir, { recursive: true });
  await writeFile(unit, unitText(stateDir), { mode: 0o644 });
  await writeJsonAtomic(new StateLayout(stateDir).serviceRecordFile, { unit } satisfies ServiceRecord);
  const todo = [systemctl(['daemon-reload']), systemctl(['enable', '--now', path.basename(unit)])].filter(
    (step): step is string => step !== null,
  );
  return { unit, todo };
}

export async function uninstallService(stateDir: string): Promise<{ unit: string | null; todo: string[] }> {
  const record = await readJsonIfExists<ServiceRecord>(new StateLayout(stateDir).serviceRecordFile);
  if (!record) return { unit: null, todo: [] };
  const todo = [systemctl(['disable', '--now', path.basename(record.unit)])].filter(
    (step): step is string => step !== null,
  );
  await rm(record.unit, { force: true });
  await rm(new StateLayout(stateDir).serviceRecordFile, { force: true });
  const reload = systemctl(['daemon-reload']);
  return { unit: record.unit, todo: reload ? [...todo, reload] : todo };
}
