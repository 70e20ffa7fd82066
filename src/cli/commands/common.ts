/** What every command of `azsbackup` shares: exit codes, options, output, errors and the .pfx password. */
import type { Argv } from 'yargs';
import { RpcError } from '../../daemon/client.js';
import { AzsError } from '../../protocol/errors.js';
import { readSecret } from '../secretInput.js';

/** docs/cli.md, "Exit codes". */
export const EXIT = { ok: 0, failed: 1, usage: 2, notRunning: 3 } as const;

export const withStateDir = <T>(args: Argv<T>) =>
  args
    .option('state-dir', {
      type: 'string',
      describe: 'State folder of the deployment (default: AZSBACKUP_HOME or the per-user folder)',
    })
    .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object' });

/** The way to give a .pfx password; there is deliberately no option that takes the password itself. */
export const withPasswordFile = <T>(args: Argv<T>) =>
  args.option('password-file', {
    type: 'string',
    describe: 'File holding the .pfx password (else AZSBACKUP_PFX_PASSWORD, else a prompt)',
  });

export function print(json: boolean, value: object, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
}

/** A line on stderr: what went wrong with part of an operation, beside its result on stdout. */
export function warn(message: string): void {
  process.stderr.write(`azsbackup: ${message}\n`);
}

/** The .pfx password from AZSBACKUP_PFX_PASSWORD, the --password-file, or a silent prompt; never argv. */
export function readPfxPassword(pfx: string, passwordFile: string | undefined): Promise<string> {
  return readSecret({
    envVar: 'AZSBACKUP_PFX_PASSWORD',
    file: passwordFile,
    fileOption: '--password-file',
    prompt: `Password for ${pfx}: `,
    parameter: 'password',
  });
}

/**
 * A failure only the command line sees (the daemon never does): the PowerShell module has the same
 * client-side reasons (module/Private/Errors.ps1).
 */
export class CliError extends Error {
  constructor(
    readonly reason: 'ConfirmationRequired',
    message: string,
    readonly parameter: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** What `--json` prints for a failure: the reason of the error table (or the CLI's own), never InternalError for a known one. */
export function errorOutput(error: Error): { reason: string; message: string; parameter: string | null } {
  const detail =
    error instanceof AzsError || error instanceof CliError
      ? error
      : error instanceof RpcError
        ? error.data
        : undefined;
  return {
    reason: detail?.reason ?? 'InternalError',
    message: error.message,
    parameter: detail?.parameter ?? null,
  };
}
