/**
 * The deployment's state folder: who it is (deployment.json), how it is configured (config.json),
 * the key that seals its secrets (secret.key) and the token clients present. Every file is
 * written atomically and readable only by its owner.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { newSecretKey, openSecret, sealSecret } from '../crypto/secretBox.js';
import { readJsonIfExists, writeFileAtomic, writeJsonAtomic } from '../util/atomicFile.js';

/** Written by `azsbackup service install`: what keeps this deployment's daemon running. */
export const SERVICE_RECORD = 'service.json';

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
};

export class StateDir {
  private constructor(
    readonly root: string,
    readonly identity: DeploymentIdentity,
  ) {}

  /** Opens (creating on first use) the state folder and the deployment's identity. */
  static async open(root: string, location = 'local'): Promise<StateDir> {
    await mkdir(root, { recursive: true, mode: 0o700 });
    await chmod(root, 0o700);
    await mkdir(path.join(root, 'logs'), { recursive: true, mode: 0o700 });
    const identityFile = path.join(root, 'deployment.json');
    let identity = await readJsonIfExists<DeploymentIdentity>(identityFile);
    if (!identity) {
      identity = { DeploymentId: randomUUID(), Location: location, CreatedTime: new Date().toISOString() };
      await writeJsonAtomic(identityFile, identity);
    }
    return new StateDir(root, identity);
  }

  file(name: string): string {
    return path.join(this.root, name);
  }

  /** Where jobs copy data on its way: cleared at every daemon start (a job's leftovers after a crash). */
  get stagingRoot(): string {
    return this.file('staging');
  }

  /**
   * A job's folder for one role, directly under the staging root, so that removing it when the role
   * is done leaves nothing behind.
   */
  stagingFor(job: string, roleName: string): string {
    return path.join(this.stagingRoot, `${job}-${roleName}`);
  }

  get logDir(): string {
    return this.file('logs');
  }

  /** The manifests this deployment wrote (state/manifestLedger.ts). */
  get ledgerFile(): string {
    return this.file('ledger.json');
  }

  get tokenFile(): string {
    return this.file('token');
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
    return readJsonIfExists<ServiceRecord>(this.file(SERVICE_RECORD));
  }

  async readConfig(): Promise<SavedConfig> {
    const saved = await readJsonIfExists<Partial<SavedConfig>>(this.file('config.json'));
    return { ...DEFAULT_CONFIG, ...saved };
  }

  async writeConfig(config: SavedConfig): Promise<void> {
    await writeJsonAtomic(this.file('config.json'), config);
  }

  async sealPassword(password: string | null): Promise<string | null> {
    return password === null ? null : sealSecret(await this.secretKey(), password);
  }

  async openPassword(config: SavedConfig): Promise<string | null> {
    return config.sealedPassword === null ? null : openSecret(await this.secretKey(), config.sealedPassword);
  }

  private async secretKey(): Promise<Buffer> {
    const keyFile = this.file('secret.key');
    const existing = await readFile(keyFile).catch(() => undefined);
    if (existing?.length === 32) return existing;
    const key = newSecretKey();
    await writeFileAtomic(keyFile, key);
    return key;
  }
}
