/**
 * The deployment's state folder: who it is (deployment.json), how it is configured (config.json),
 * the key that seals its secrets (secret.key) and the token clients present. Every file is
 * written atomically and readable only by its owner.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { newSecretKey, openSecret, sealSecret } from '../crypto/secretBox.js';
import { AzsError } from '../protocol/errors.js';
import { readJsonIfExists, writeFileAtomic, writeJsonAtomic } from '../util/atomicFile.js';
import { StateLayout } from './layout.js';

export interface ServiceRecord {
  unit: string;
}

export interface DeploymentIdentity {
  DeploymentId: string;
  Location: string;
  CreatedTime: string;
}

export interface SavedCertificate {
  thumbprint: string;
  subject: string;
  notAfter: string;
  pem: string;
}

/**
 * The configuration as saved, in one file so that one atomic write changes it whole. The store
 * password is kept sealed (see sealPassword), never in clear.
 */
export interface SavedConfig {
  path: string | null;
  userName: string | null;
  sealedPassword: string | null;
  requireEncryption: boolean;
  certificate: SavedCertificate | null;
  backupFrequencyInHours: number;
  backupRetentionPeriodInDays: number;
  isBackupSchedulerEnabled: boolean;
  /** Where azsbackup.prom is written for Prometheus's textfile collector; null: not written. */
  metricsPath: string | null;
}

export const DEFAULT_CONFIG: SavedConfig = {
  path: null,
  userName: null,
  sealedPassword: null,
  requireEncryption: false,
  certificate: null,
  backupFrequencyInHours: 12,
  backupRetentionPeriodInDays: 7,
  isBackupSchedulerEnabled: true,
  metricsPath: null,
};

/**
 * Creates the state folder with mode 0700, or checks the one that is there. The folder itself is made
 * non-recursively, so that one someone else made first is found and checked, never adopted. An
 * existing folder is never chmod-ed (it may be shared, like a 1777 /tmp, whose sticky bit others rely
 * on): it is used only if it is a real folder, not a link, owned by this account, and writable by no
 * group or other user, since the token and the sealed secrets live in it. Windows has no uid or
 * mode bits to check; there only the link and folder checks apply (docs/platforms.md).
 */
export async function prepareStateFolder(root: string): Promise<void> {
  try {
    await mkdir(path.dirname(root), { recursive: true, mode: 0o700 });
    await mkdir(root, { mode: 0o700 });
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' || !(await lstat(root).catch(() => null))) {
      throw new AzsError(
        'InvalidParameter',
        `The state folder '${root}' (--state-dir, else AZSBACKUP_HOME) cannot be created (${code}). Name a folder this account can create.`,
        { parameter: 'state-dir', target: root, cause: error },
      );
    }
  }
  const problem = unsafeBecause(await lstat(root));
  if (problem) {
    throw new AzsError(
      'StateDirUnsafe',
      `The state folder '${root}' (--state-dir, else AZSBACKUP_HOME) ${problem}. The daemon keeps its token and secrets there and never changes the permissions of a folder it did not make: name a new folder, e.g. '${path.join(root, 'azsbackup')}', which it creates with mode 0700, or make this one a folder of this account that only it can write (chown, chmod 700).`,
      { parameter: 'state-dir', target: root },
    );
  }
}

function unsafeBecause(info: Stats): string | null {
  if (info.isSymbolicLink()) return 'is a symbolic link';
  if (!info.isDirectory()) return 'is not a folder';
  const uid = process.getuid?.();
  if (uid === undefined) return null;
  if (info.uid !== uid) return `belongs to uid ${info.uid}, not to the daemon's account (uid ${uid})`;
  if (info.mode & 0o022)
    return `can be written by its group or by other users (mode ${(info.mode & 0o7777).toString(8)})`;
  return null;
}

/** The opened state folder: its layout (state/layout.ts), its identity and its secrets. */
export class StateDir extends StateLayout {
  private constructor(
    root: string,
    readonly identity: DeploymentIdentity,
  ) {
    super(root);
  }

  /** Opens (creating on first use) the state folder and the deployment's identity. */
  static async open(root: string, location = 'local'): Promise<StateDir> {
    await prepareStateFolder(root);
    const layout = new StateLayout(root);
    await mkdir(layout.logDir, { recursive: true, mode: 0o700 });
    let identity = await readJsonIfExists<DeploymentIdentity>(layout.deploymentFile);
    if (!identity) {
      identity = { DeploymentId: randomUUID(), Location: location, CreatedTime: new Date().toISOString() };
      await writeJsonAtomic(layout.deploymentFile, identity);
    }
    return new StateDir(root, identity);
  }

  /**
   * A job's folder for one role, directly under the staging root, so that removing it when the role
   * is done leaves nothing behind.
   */
  stagingFor(job: string, roleName: string): string {
    return path.join(this.stagingRoot, `${job}-${roleName}`);
  }

  /** The client token: made once, kept across restarts so running clients stay valid. */
  async ensureToken(): Promise<string> {
    const existing = await readFile(this.tokenFile, 'utf8').catch(() => '');
    if (/^[0-9a-f]{64}$/.test(existing.trim())) return existing.trim();
    const token = randomBytes(32).toString('hex');
    await writeFileAtomic(this.tokenFile, token);
    return token;
  }

  async readServiceRecord(): Promise<ServiceRecord | undefined> {
    return readJsonIfExists<ServiceRecord>(this.serviceRecordFile);
  }

  async readConfig(): Promise<SavedConfig> {
    const saved = await readJsonIfExists<Partial<SavedConfig>>(this.configFile);
    return { ...DEFAULT_CONFIG, ...saved };
  }

  async writeConfig(config: SavedConfig): Promise<void> {
    await writeJsonAtomic(this.configFile, config);
  }

  async sealPassword(password: string | null): Promise<string | null> {
    return password === null ? null : this.seal(password);
  }

  async openPassword(config: SavedConfig): Promise<string | null> {
    return config.sealedPassword === null ? null : this.open(config.sealedPassword);
  }

  /** Seals a secret (a password, a webhook secret) under the deployment's secret key. */
  async seal(secret: string): Promise<string> {
    return sealSecret(await this.secretKey(), secret);
  }

  async open(sealed: string): Promise<string> {
    return openSecret(await this.secretKey(), sealed);
  }

  private async secretKey(): Promise<Buffer> {
    const keyFile = this.secretKeyFile;
    const existing = await readFile(keyFile).catch(() => undefined);
    if (existing?.length === 32) return existing;
    const key = newSecretKey();
    await writeFileAtomic(keyFile, key);
    return key;
  }
}
