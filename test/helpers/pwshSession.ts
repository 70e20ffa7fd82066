/** A real pwsh driven through node-powershell, with the module imported: what the TypeScript e2e tests script. */
import { PowerShell } from 'node-powershell';
import { findPwsh, moduleManifest, pwshEnv } from './pwsh.js';

/** A PowerShell single-quoted string literal. */
export const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;

export class PwshSession {
  private constructor(private readonly shell: PowerShell) {}

  /** Starts pwsh with these extra environment variables and imports the module. */
  static async start(env: Record<string, string>): Promise<PwshSession> {
    const shell = new PowerShell({
      executable: findPwsh(),
      executableOptions: { '-NoProfile': true, '-NonInteractive': true },
      spawnOptions: { env: pwshEnv(env) },
    });
    const session = new PwshSession(shell);
    await session.run(
      `$ProgressPreference = 'SilentlyContinue'; Import-Module ${quote(moduleManifest)} -ErrorAction Stop`,
    );
    return session;
  }

  /**
   * Runs PowerShell in the shell's own scope and returns its standard output. The script travels as
   * one Base64 line: `pwsh -Command -` reads stdin line by line, and a multi-line statement would
   * wait for more input. Terminal mode escapes the console host writes are removed.
   */
  async run(script: string): Promise<string> {
    const encoded = Buffer.from(script, 'utf8').toString('base64');
    const result = await this.shell.invoke(
      `. ([scriptblock]::Create([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String('${encoded}'))))`,
    );
    // eslint-disable-next-line no-control-regex
    return result.raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').trim();
  }

  /** Runs PowerShell whose last output is JSON, and parses it. */
  async runJson<T>(command: string): Promise<T> {
    return JSON.parse(await this.run(command)) as T;
  }

  dispose(): Promise<void> {
    return this.shell.dispose().then(() => undefined);
  }
}
