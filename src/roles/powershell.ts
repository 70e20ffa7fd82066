/**
 * The PowerShell provider: the role's owner supplies a backup and a restore script block; the engine
 * runs them in pwsh with a staging folder. The backup script fills the folder, which is then stored
 * exactly as a Directory role's tree; on restore the folder is filled from the backup before the
 * restore script runs.
 *
 * The contract, made hard to miss because a script that writes elsewhere backs up nothing: the
 * staging folder is `$StagingPath`, the script's -StagingPath when its param block declares one,
 * else its first positional argument (whatever the parameter is called, or `$args[0]`), and the
 * current location. Scripts run under `Set-StrictMode -Version Latest`, so a misspelt variable
 * fails the role instead of quietly naming the file system's root.
 *
 * Any error the script reports fails the role — a terminating error, or any error record it writes
 * (a native command that exits non-zero counts; a native command's stderr text alone does not).
 */
import type { ArchiveEntry, ExtractedEntry } from '../archive/entry.js';
import { AzsError } from '../protocol/errors.js';
import type { RestoreResult, RoleContext, RoleProvider, RoleRegistration } from './provider.js';
import { psString, reportResult, runPwsh } from './pwsh.js';
import { walkTree } from './treeWalker.js';
import { writeTree } from './treeWriter.js';

export interface PowerShellProviderOptions {
  /** How long a backup or restore script may run before it is stopped. */
  scriptTimeoutMs?: number;
}

const DEFAULT_SCRIPT_TIMEOUT_MS = 30 * 60_000;
const PARSE_TIMEOUT_MS = 2 * 60_000;
type ScriptParameter = 'BackupScript' | 'RestoreScript';

export class PowerShellProvider implements RoleProvider {
  readonly name = 'PowerShell';
  private readonly scriptTimeoutMs: number;

  constructor(options: PowerShellProviderOptions = {}) {
    this.scriptTimeoutMs = options.scriptTimeoutMs ?? DEFAULT_SCRIPT_TIMEOUT_MS;
  }

  /** Both scripts must be present and parse (PowerShell's own parser decides). */
  async validate(role: RoleRegistration): Promise<void> {
    const backup = scriptOf(role, 'BackupScript');
    const restore = scriptOf(role, 'RestoreScript');
    const errors = await runPwsh<Record<ScriptParameter, string[]>>(
      [
        `$BackupErrors = ${parseErrors(backup)}`,
        `$RestoreErrors = ${parseErrors(restore)}`,
        reportResult('@{ BackupScript = @($BackupErrors); RestoreScript = @($RestoreErrors) }'),
      ],
      { what: `Checking the scripts of role '${role.Name}'`, timeoutMs: PARSE_TIMEOUT_MS },
    );
    if (!errors)
      throw new AzsError(
        'RoleFailed',
        `Role '${role.Name}': PowerShell stopped while checking the scripts. Try again.`,
      );
    for (const parameter of ['BackupScript', 'RestoreScript'] as const) {
      if (errors[parameter].length) {
        throw new AzsError(
          'InvalidParameter',
          `-${parameter} does not parse: ${errors[parameter].join('; ')}. Correct the script block.`,
          {
            parameter,
            target: role.Name,
          },
        );
      }
    }
  }

  whyEmpty(): string {
    return (
      'its backup script wrote nothing into the staging folder (given to the script as $StagingPath, ' +
      'as -StagingPath or its first argument, and as its current location)'
    );
  }

  /** Runs the backup script to fill the staging folder, then yields the folder's tree. */
  async *snapshot(role: RoleRegistration, context: RoleContext): AsyncGenerator<ArchiveEntry> {
    await this.runScript(role, 'BackupScript', context);
    yield* walkTree(context.stagingDir);
  }

  /** Fills the staging folder from the backup, then runs the restore script on it. */
  async restore(
    role: RoleRegistration,
    entries: AsyncIterable<ExtractedEntry>,
    context: RoleContext,
  ): Promise<RestoreResult> {
    await writeTree(entries, context.stagingDir);
    await this.runScript(role, 'RestoreScript', context);
    return { warnings: [] };
  }

  private async runScript(
    role: RoleRegistration,
    parameter: ScriptParameter,
    context: RoleContext,
  ): Promise<void> {
    const kind = parameter === 'BackupScript' ? 'backup' : 'restore';
    const failures = await runPwsh<string[]>(
      scriptStatements(scriptOf(role, parameter), context.stagingDir),
      {
        what: `Role '${role.Name}': the ${kind} script`,
        timeoutMs: this.scriptTimeoutMs,
        signal: context.signal,
        cwd: context.stagingDir,
      },
    );
    const message =
      failures === undefined
        ? "it ended PowerShell before finishing (use 'return', not 'exit', to leave the script early)"
        : failures.join('; ');
    if (message)
      throw new AzsError('RoleFailed', `Role '${role.Name}': ${kind} script failed: ${message}`, {
        target: role.Name,
      });
  }
}

function scriptOf(role: RoleRegistration, parameter: ScriptParameter): string {
  const script = role[parameter];
  if (!script?.trim()) {
    throw new AzsError('InvalidParameter', `A PowerShell role needs -${parameter} (role '${role.Name}').`, {
      parameter,
      target: role.Name,
    });
  }
  return script;
}

/** An expression for the parse errors of `script`, each as "line N: message". */
function parseErrors(script: string): string {
  return (
    '& { $tokens = $null; $errors = $null; ' +
    `[void][System.Management.Automation.Language.Parser]::ParseInput(${psString(script)}, [ref]$tokens, [ref]$errors); ` +
    '$errors | ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Message)" } }'
  );
}

/**
 * Statements that set `$AzsArguments`, the splat handing `$StagingPath` to `$AzsScript`: by name
 * when it declares -StagingPath; else as its first positional argument, unless it declares an empty
 * param block (which takes no argument at all).
 */
const STAGING_ARGUMENTS =
  '$AzsArguments = @($StagingPath); $AzsParamBlock = $AzsScript.Ast.ParamBlock; ' +
  "if ($AzsParamBlock.Parameters.Name.VariablePath.UserPath -contains 'StagingPath') { $AzsArguments = @{ StagingPath = $StagingPath } } " +
  'elseif ($AzsParamBlock -and -not $AzsParamBlock.Parameters.Count) { $AzsArguments = @() }';

/**
 * Runs the script block in the staging folder, under strict mode, with the folder as `$StagingPath`
 * and as its argument (see the contract above), collecting every error record it writes, and reports
 * the collected messages. The arguments are worked out before strict mode: a script without a param
 * block has no ParamBlock to read.
 */
function scriptStatements(script: string, stagingDir: string): string[] {
  return [
    "$ErrorActionPreference = 'Continue'",
    '$PSNativeCommandUseErrorActionPreference = $true',
    `$StagingPath = ${psString(stagingDir)}`,
    '$AzsFailures = [System.Collections.Generic.List[string]]::new()',
    'try { ' +
      `$AzsScript = [scriptblock]::Create(${psString(script)}); ` +
      `${STAGING_ARGUMENTS}; ` +
      'Set-Location -LiteralPath $StagingPath; ' +
      'Set-StrictMode -Version Latest; ' +
      '& $AzsScript @AzsArguments 2>&1 | ForEach-Object { ' +
      "if ($_ -is [System.Management.Automation.ErrorRecord] -and $_.FullyQualifiedErrorId -notlike 'NativeCommandError*') { $AzsFailures.Add($_.ToString()) } } " +
      '} catch { $AzsFailures.Add($_.ToString()) }',
    reportResult('@($AzsFailures)'),
  ];
}
