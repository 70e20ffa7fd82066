/** Finds the real pwsh the tests drive (PATH, else the dotnet global tool) and its environment. */
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function findPwsh(): string {
  const onPath = (process.env.PATH ?? '')
    .split(path.delimiter)
    .map((dir) => path.join(dir, 'pwsh'))
    .find((file) => existsSync(file));
  const tool = path.join(os.homedir(), '.dotnet', 'tools', 'pwsh');
  const found = onPath ?? (existsSync(tool) ? tool : undefined);
  if (!found)
    throw new Error('pwsh not found on PATH or in ~/.dotnet/tools: run scripts/install-test-deps.sh');
  return found;
}

/** A tool-installed pwsh needs DOTNET_ROOT: the folder of the real dotnet executable. */
export function pwshEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...extra };
  if (!env.DOTNET_ROOT) {
    const dotnet = execFileSync('sh', ['-c', 'command -v dotnet || true'], { encoding: 'utf8' }).trim();
    if (dotnet) env.DOTNET_ROOT = path.dirname(realpathSync(dotnet));
  }
  env.POWERSHELL_TELEMETRY_OPTOUT = '1';
  env.POWERSHELL_UPDATECHECK = 'Off';
  return env;
}

export const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..');
export const moduleManifest = path.join(repoRoot, 'AzureStackBackup.psd1');
export const cliMain = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
