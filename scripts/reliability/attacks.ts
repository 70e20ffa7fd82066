/**
 * What the "share writer" and "local user" scenarios (issue 14) share: the names of the security
 * contract in one place, an attack runner that counts every attack tried (faults injected) and every
 * attack that succeeded (leaked), a throw-away Unix user, and the operator's side through the real
 * cmdlets in one pwsh session.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { PFX_PASSWORD } from '../../test/helpers/deployment.js';
import { PwshSession, quote } from '../../test/helpers/pwshSession.js';
import { errorMessage, within, type Cleanup, type Tally } from './common.js';

/** The restore switch that accepts the roles of a backup this deployment did not write. */
export const ACCEPT_BACKUP_ROLES = 'AcceptBackupRoles';
/** The Backup property that says whether this deployment wrote the backup (its ledger has its manifest). */
export const KNOWN_TO_DEPLOYMENT = 'IsKnownToDeployment';

/**
 * Runs one attack. `run` returns how the attack succeeded, or null when it was stopped; an attack
 * that cannot even be set up is a problem of the scenario, not a success of the attacker.
 */
export async function attack(tally: Tally, name: string, run: () => Promise<string | null>): Promise<void> {
  tally.runs += 1;
  tally.injected += 1;
  try {
    const success = await run();
    if (success) tally.leak(`attack succeeded: ${name}: ${success}`);
  } catch (error) {
    tally.fail(`attack could not be run: ${name}: ${errorMessage(error)}`);
  }
}

/** A Unix user made for the scenario and removed by `cleanup`; its uid and gid. */
export function addUser(cleanup: Cleanup): { name: string; uid: number; gid: number } {
  const name = `azsrel${randomBytes(3).toString('hex')}`;
  const added = spawnSync('useradd', ['-M', '-N', '-s', '/usr/sbin/nologin', name], { encoding: 'utf8' });
  if (added.status !== 0) throw new Error(`useradd failed: ${added.stderr}`);
  cleanup.add(() => spawnSync('userdel', [name]));
  const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  return { name, uid: id('-u'), gid: id('-g') };
}

/** What a cmdlet did: its output as JSON, or the error it failed with. */
export type Outcome =
  { ok: true; output: unknown } | { ok: false; id: string; category: string; message: string };

export interface ListedBackup {
  BackupId: string;
  CreatedDateTime: string;
  /** The contract's property; null while the module does not have it ("not shown"). */
  Known: boolean | null;
}

/** The operator at a pwsh prompt with the module imported, on one daemon's state folder. */
export class Operator {
  private constructor(
    private session: PwshSession,
    private readonly env: Record<string, string>,
    private readonly pfxPath: string,
  ) {}

  static async start(stateDir: string, pfxPath: string): Promise<Operator> {
    const env = { AZSBACKUP_HOME: stateDir, AZS_PFX_PASSWORD: PFX_PASSWORD };
    return new Operator(await PwshSession.start(env), env, pfxPath);
  }

  /**
   * Runs a cmdlet line and reports what it did. Warnings are silenced so that the last line is the
   * JSON; a call that takes longer than `timeoutMs` leaves the session behind and starts a new one.
   */
  async attempt(command: string, timeoutMs = 180_000): Promise<Outcome> {
    const script = `$WarningPreference = 'SilentlyContinue'; $InformationPreference = 'SilentlyContinue'
      try { $ErrorActionPreference = 'Stop'; $out = @(${command}); @{ ok = $true; output = $out } | ConvertTo-Json -Depth 6 -Compress }
      catch { @{ ok = $false; id = [string]$_.FullyQualifiedErrorId; category = [string]$_.CategoryInfo.Category; message = $_.Exception.Message } | ConvertTo-Json -Compress }`;
    const ran = this.session.run(script);
    try {
      const text = await within(ran, timeoutMs, command.split(' ')[0]!);
      const json = text
        .split('\n')
        .reverse()
        .find((line) => line.startsWith('{'));
      if (!json) throw new Error(`${command.split(' ')[0]} printed no result: ${text.slice(0, 300)}`);
      return JSON.parse(json) as Outcome;
    } catch (error) {
      if (!/no answer within/.test(errorMessage(error))) throw error;
      void ran.catch(() => undefined);
      const stuck = this.session;
      this.session = await PwshSession.start(this.env);
      void stuck.dispose().catch(() => undefined);
      throw error;
    }
  }

  private get decryption(): string {
    return `-DecryptionCertPath ${quote(this.pfxPath)} -DecryptionCertPassword (ConvertTo-SecureString $env:AZS_PFX_PASSWORD -AsPlainText -Force)`;
  }

  /** Restore-AzsBackup -Force, never with the accepting switch. */
  restore(name: string, roleName?: string): Promise<Outcome> {
    const role = roleName ? ` -RoleName ${quote(roleName)}` : '';
    return this.attempt(`Restore-AzsBackup -Name ${quote(name)}${role} ${this.decryption} -Force`);
  }

  /** The roles Test-AzsBackup with the .pfx reports Succeeded (none when it fails outright). */
  async rolesVerified(name: string): Promise<string[]> {
    const outcome = await this.attempt(`Test-AzsBackup -Name ${quote(name)} ${this.decryption}`);
    if (!outcome.ok) return [];
    const results = outcome.output as Array<{ RoleName: string; Status: string }>;
    return results.filter((result) => result.Status === 'Succeeded').map((result) => result.RoleName);
  }

  async backups(): Promise<ListedBackup[]> {
    const outcome = await this.attempt(
      `Get-AzsBackup | ForEach-Object { @{ BackupId = $_.BackupId; CreatedDateTime = [string]$_.CreatedDateTime; Known = $_.PSObject.Properties[${quote(KNOWN_TO_DEPLOYMENT)}].Value } }`,
    );
    if (!outcome.ok) throw new Error(`Get-AzsBackup failed: ${outcome.message}`);
    return (outcome.output as ListedBackup[]).map((backup) => ({
      ...backup,
      Known: typeof backup.Known === 'boolean' ? backup.Known : null,
    }));
  }

  async roleNames(): Promise<string[]> {
    const outcome = await this.attempt('Get-AzsInfrastructureRole | ForEach-Object Name');
    if (!outcome.ok) throw new Error(`Get-AzsInfrastructureRole failed: ${outcome.message}`);
    return outcome.output as string[];
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}
