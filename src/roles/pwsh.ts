/**
 * Running PowerShell for roles: finds pwsh (PATH, else the dotnet global tool), gives a tool-installed
 * pwsh the DOTNET_ROOT it needs, and runs one command line in a fresh pwsh through node-powershell,
 * stopping it when it runs too long or the job is cancelled.
 *
 * Commands report back with one marked line of JSON on stdout (see `reportResult`), so whatever the
 * role's script prints to the host cannot be mistaken for the result.
 */
import { existsSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PowerShell } from 'node-powershell';
import { AzsError } from '../protocol/errors.js';
import { allowlistedEnvironment } from '../util/environment.js';

const RESULT_MARKER = 'AZSBACKUP-RESULT:';
const PID_MARKER = 'AZSBACKUP-PID:';
const executableName = process.platform === 'win32' ? 'pwsh.exe' : 'pwsh';
const dotnetName = process.platform === 'win32' ? 'dotnet.exe' : 'dotnet';

export function findPwsh(): string {
  const found =
    findOnPath(executableName) ?? existing(path.join(os.homedir(), '.dotnet', 'tools', executableName));
  if (!found) {
    throw new AzsError(
      'RoleFailed',
      'PowerShell 7 (pwsh) was not found on PATH or in ~/.dotnet/tools. Install it ' +
        '(e.g. dotnet tool install --global PowerShell) and restart the AzureStackBackup daemon.',
    );
  }
  return found;
}

/**
 * The allowlisted part of the daemon's environment (no secret the daemon was started with reaches a
 * role's script), plus DOTNET_ROOT (the real dotnet's folder) when it is unset.
 */
export function pwshEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...allowlistedEnvironment(),
    POWERSHELL_TELEMETRY_OPTOUT: '1',
    POWERSHELL_UPDATECHECK: 'Off',
  };
  if (!env.DOTNET_ROOT) {
    const dotnet = findOnPath(dotnetName);
    if (dotnet) env.DOTNET_ROOT = path.dirname(realpathSync(dotnet));
  }
  return env;
}

function findOnPath(name: string): string | undefined {
  const folders = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return folders.map((folder) => path.join(folder, name)).find((file) => existsSync(file));
}

function existing(file: string): string | undefined {
  return existsSync(file) ? file : undefined;
}

/** A PowerShell expression for `text`, safe for any characters (the command stays one line). */
export function psString(text: string): string {
  return `([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('${Buffer.from(text, 'utf8').toString('base64')}')))`;
}

/** A statement that reports `expression`'s value back to `runPwsh` as JSON. */
export function reportResult(expression: string): string {
  return `[Console]::Out.WriteLine('${RESULT_MARKER}' + (ConvertTo-Json -Compress -Depth 4 -InputObject (${expression})))`;
}

export interface PwshRunOptions {
  /** What is running, for messages: "Role 'CA': backup script". */
  what: string;
  timeoutMs: number;
  signal?: AbortSignal;
  cwd?: string;
}

/**
 * Runs `statements` (joined into one command line) in a fresh, non-interactive pwsh and returns the
 * value the last `reportResult` statement reported, or undefined when none did (the command ended
 * PowerShell early, e.g. with `exit`).
 */
export async function runPwsh<T>(statements: string[], options: PwshRunOptions): Promise<T | undefined> {
  options.signal?.throwIfAborted();
  const shell = new PowerShell({
    executable: findPwsh(),
    executableOptions: { '-NoProfile': true, '-NonInteractive': true },
    spawnOptions: { env: pwshEnvironment(), cwd: options.cwd },
    throwOnInvocationError: false,
  });
  const engine = watchEnginePid(shell);
  const stop = stopWhenDue(shell, engine, options);
  try {
    // pwsh exiting mid-command (the script called `exit`) fails the invocation: that is "no result".
    const command = [`[Console]::Out.WriteLine('${PID_MARKER}' + $PID)`, ...statements].join('; ');
    const invocation = shell.invoke(command).catch(() => undefined);
    const result = await Promise.race([invocation, stop.stopped]);
    return parseResult<T>(result?.stdout?.toString('utf8') ?? '');
  } finally {
    stop.cancel();
    await shell.dispose().catch(() => undefined);
  }
}

/**
 * The PID of the process that runs PowerShell, as it reports it. A tool-installed pwsh is a launcher
 * that starts `dotnet pwsh.dll` as its child, so killing the launcher alone would leave the script running.
 */
function watchEnginePid(shell: PowerShell): { pid?: number } {
  const engine: { pid?: number } = {};
  let seen = '';
  const onData = (chunk: string | Buffer): void => {
    seen += chunk.toString();
    const match = new RegExp(`${PID_MARKER}(\\d+)`).exec(seen);
    if (match) engine.pid = Number(match[1]);
    // The marker is the command's first output; past that, there is nothing more to look for.
    if (match || seen.length > 65_536) shell.streams.stdout.off('data', onData);
  };
  shell.streams.stdout.on('data', onData);
  return engine;
}

/** A promise that rejects (after killing PowerShell) when the time is up or the job is cancelled. */
function stopWhenDue(
  shell: PowerShell,
  engine: { pid?: number },
  options: PwshRunOptions,
): { stopped: Promise<never>; cancel: () => void } {
  let cancel = (): void => undefined;
  const stopped = new Promise<never>((_resolve, reject) => {
    const kill = async (error: AzsError): Promise<void> => {
      if (engine.pid) killQuietly(engine.pid);
      await shell.dispose('SIGKILL').catch(() => undefined);
      reject(error);
    };
    const timer = setTimeout(() => void kill(timedOut(options)), options.timeoutMs);
    const onAbort = (): void =>
      void kill(new AzsError('JobCancelled', `${options.what} was stopped because the job was cancelled.`));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    cancel = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
  });
  stopped.catch(() => undefined);
  return { stopped, cancel };
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function timedOut(options: PwshRunOptions): AzsError {
  const seconds = Math.round(options.timeoutMs / 1000);
  return new AzsError(
    'RoleFailed',
    `${options.what} did not finish within ${seconds >= 120 ? `${Math.round(seconds / 60)} minutes` : `${seconds} s`} and was stopped. ` +
      'Make the script finish sooner (or find what it waits for), then run the job again.',
  );
}

function parseResult<T>(stdout: string): T | undefined {
  // pwsh may put terminal control sequences (keypad mode) before the marker on the same line.
  const line = stdout
    .split(/\r?\n/)
    .reverse()
    .find((candidate) => candidate.includes(RESULT_MARKER));
  return line === undefined
    ? undefined
    : (JSON.parse(line.slice(line.indexOf(RESULT_MARKER) + RESULT_MARKER.length)) as T);
}
