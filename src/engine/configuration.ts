/**
 * Backup configuration: validation before anything is saved (ranges, the store probe, the
 * certificate), then one atomic save. Only the settings a caller gives change.
 */
import { lstat, rm } from 'node:fs/promises';
import path from 'node:path';
import { readPublicCertificate, type PublicCertificate } from '../crypto/certificates.js';
import { AzsError } from '../protocol/errors.js';
import type { BackupLocation, ShareTest } from '../protocol/objects.js';
import type { SavedConfig, StateDir } from '../state/stateDir.js';
import { probeStore } from '../storage/probe.js';
import type { BackupStore, StoreSettings } from '../storage/store.js';
import { writeFileAtomic } from '../util/atomicFile.js';
import { DAY_MS, type Clock } from '../util/clock.js';
import { formatCapacity } from '../util/format.js';
import { hasControlCharacters } from '../util/text.js';
import { shareTests } from './storeAdvice.js';
import type { Stores } from './stores.js';

export const RANGES = {
  BackupFrequencyInHours: { min: 4, max: 12 },
  BackupRetentionPeriodInDays: { min: 2, max: 14 },
} as const;

/** Certificates expiring sooner than this raise a warning (and the expiry alert). */
export const CERT_EXPIRY_WARNING_DAYS = 30;

/** The settings to change (Set-AzsBackupConfiguration); a setting left out keeps its saved value. */
export interface ConfigChange {
  Path?: string;
  UserName?: string;
  Password?: string;
  RequireEncryption?: boolean;
  EncryptionCertPath?: string;
  BackupFrequencyInHours?: number;
  BackupRetentionPeriodInDays?: number;
  IsBackupSchedulerEnabled?: boolean;
  /** A folder for azsbackup.prom; an empty string stops writing it. */
  MetricsPath?: string;
}

export function checkRange(name: keyof typeof RANGES, value: number | undefined): void {
  if (value === undefined) return;
  const { min, max } = RANGES[name];
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AzsError('InvalidRange', `${name} must be between ${min} and ${max} (got ${value}).`, {
      parameter: name,
      target: String(value),
    });
  }
}

const USER_NAME =
  /^(?:[^\\/@\s"[\]:;|=+*?<>]{1,64}\\[^\\/@\s"[\]:;|=+*?<>]{1,104}|[^\\/@\s"[\]:;|=+*?<>]{1,104}(?:@[A-Za-z0-9.-]{1,253})?)$/;

export function checkUserName(userName: string | undefined): void {
  if (userName === undefined || userName === '') return;
  if (!USER_NAME.test(userName)) {
    throw new AzsError(
      'InvalidParameter',
      `UserName '${userName}' is not a valid account name. Write it as DOMAIN\\user, user@domain or user.`,
      {
        parameter: 'UserName',
        target: userName,
      },
    );
  }
}

export function checkStorePath(storePath: string | undefined): void {
  if (storePath === undefined) return;
  if (storePath.trim() === '' || hasControlCharacters(storePath)) {
    throw new AzsError(
      'InvalidParameter',
      'Path must be a folder path without control characters, e.g. \\\\server\\share\\folder or /mnt/backups.',
      {
        parameter: 'Path',
      },
    );
  }
}

/** MetricsPath's fix, told with every reason it is refused. */
const METRICS_PATH_FIX =
  'Give the full path of an existing folder the daemon can write to, such as the folder node_exporter reads with --collector.textfile.directory (e.g. /var/lib/prometheus/node-exporter), or an empty string to stop writing metrics.';

function metricsPathError(reason: string, metricsPath: string): AzsError {
  return new AzsError('InvalidParameter', `MetricsPath '${metricsPath}' ${reason}. ${METRICS_PATH_FIX}`, {
    parameter: 'MetricsPath',
    target: metricsPath,
  });
}

/**
 * The metrics folder must exist, be a folder itself (not a link that could later point elsewhere)
 * and let the daemon create and rename a file, as every write of the metrics file does: tried here
 * with a probe file whose name the textfile collector ignores (it reads *.prom only).
 */
export async function checkMetricsPath(metricsPath: string | undefined): Promise<void> {
  if (!metricsPath) return;
  if (hasControlCharacters(metricsPath)) throw metricsPathError('holds control characters', metricsPath);
  if (!path.isAbsolute(metricsPath)) throw metricsPathError('is not an absolute path', metricsPath);
  const found = await lstat(metricsPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR')
      throw metricsPathError('does not exist', metricsPath);
    throw metricsPathError(`cannot be read (${error.code ?? error.message})`, metricsPath);
  });
  if (found.isSymbolicLink()) throw metricsPathError('is a symbolic link, not a folder', metricsPath);
  if (!found.isDirectory()) throw metricsPathError('is not a folder', metricsPath);
  const probe = path.join(metricsPath, `.azsbackup-probe-${process.pid}`);
  try {
    await writeFileAtomic(probe, '');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw metricsPathError(`does not let the daemon create and rename a file (${code})`, metricsPath);
  } finally {
    await rm(probe, { force: true });
  }
}

export interface ConfigResult {
  location: BackupLocation;
  warnings: string[];
}

/** Schedule times shown with the configuration; the scheduler and the job history know them. */
export type ScheduleTimes = (
  config: SavedConfig,
) => Promise<Pick<BackupLocation, 'NextBackupTime' | 'LastBackupTime'>>;

export class ConfigurationService {
  constructor(
    private readonly state: StateDir,
    private readonly stores: Stores,
    private readonly clock: Clock,
    private readonly scheduleTimes: ScheduleTimes,
  ) {}

  /** The configuration; its store's free space read over `open` when given (else opened for it). */
  async get(open: BackupStore | null = null): Promise<ConfigResult> {
    const config = await this.state.readConfig();
    const capacity = await this.availableCapacity(config, open);
    return {
      location: await this.describe(config, capacity.value),
      warnings: [
        ...this.certificateWarnings(config),
        ...(await this.keepAliveWarnings(config)),
        ...(capacity.warning ? [capacity.warning] : []),
      ],
    };
  }

  /** Scheduled backups need a daemon that outlives the session and the reboot (SPEC §6). */
  private async keepAliveWarnings(config: SavedConfig): Promise<string[]> {
    if (!config.path || !config.certificate || !config.isBackupSchedulerEnabled) return [];
    if (await this.state.readServiceRecord()) return [];
    return [
      "The scheduler is on, but nothing keeps the AzureStackBackup daemon running across logoffs and reboots; scheduled backups stop with it. Run 'azsbackup service install' (see docs/cli.md).",
    ];
  }

  /** Validates and saves; returns the saved configuration and the warnings to show. */
  async set(change: ConfigChange): Promise<{ config: SavedConfig; warnings: string[] }> {
    checkRange('BackupFrequencyInHours', change.BackupFrequencyInHours);
    checkRange('BackupRetentionPeriodInDays', change.BackupRetentionPeriodInDays);
    checkUserName(change.UserName);
    checkStorePath(change.Path);
    await checkMetricsPath(change.MetricsPath);
    const saved = await this.state.readConfig();
    const next: SavedConfig = {
      ...saved,
      path: change.Path ?? saved.path,
      userName: change.UserName === undefined ? saved.userName : change.UserName || null,
      sealedPassword:
        change.Password === undefined
          ? saved.sealedPassword
          : await this.state.sealPassword(change.Password || null),
      requireEncryption: change.RequireEncryption ?? saved.requireEncryption,
      backupFrequencyInHours: change.BackupFrequencyInHours ?? saved.backupFrequencyInHours,
      backupRetentionPeriodInDays: change.BackupRetentionPeriodInDays ?? saved.backupRetentionPeriodInDays,
      isBackupSchedulerEnabled: change.IsBackupSchedulerEnabled ?? saved.isBackupSchedulerEnabled,
      metricsPath: change.MetricsPath === undefined ? saved.metricsPath : change.MetricsPath || null,
    };
    if (change.EncryptionCertPath !== undefined) {
      next.certificate = this.acceptCertificate(
        await readPublicCertificate(change.EncryptionCertPath, 'EncryptionCertPath'),
      );
    }
    const storeChanged = ['Path', 'UserName', 'Password', 'RequireEncryption'].some((key) => key in change);
    if (storeChanged) await this.validateStore(next, change.Password);
    await this.state.writeConfig(next);
    return { config: next, warnings: this.certificateWarnings(next) };
  }

  async testStore(override: Partial<StoreSettings>): Promise<ShareTest[]> {
    const settings = await this.stores.settingsOf(await this.state.readConfig(), override);
    if (!settings) {
      throw new AzsError(
        'NotConfigured',
        'No backup store is configured. Give -Path, or configure one with Set-AzsBackupConfiguration -Path.',
        {
          parameter: 'Path',
        },
      );
    }
    checkStorePath(settings.path);
    return this.stores.with(settings, async (store) => shareTests(await probeStore(store)));
  }

  /** A password just given is used as given: it was sealed once for saving, not to be opened again. */
  private async validateStore(config: SavedConfig, password: string | undefined): Promise<void> {
    const given = password === undefined ? {} : { password: password || null };
    const settings = await this.stores.settingsOf(config, given);
    if (!settings) return;
    const report = await this.stores.with(settings, probeStore);
    if (report.failure) throw report.failure;
  }

  private acceptCertificate(certificate: PublicCertificate) {
    if (certificate.notAfter.getTime() <= this.clock.now().getTime()) {
      throw new AzsError(
        'CertificateExpired',
        `The certificate ${certificate.thumbprint} expired on ${certificate.notAfter.toISOString()}. Create a new one (New-AzsBackupEncryptionCertificate) and give its .cer.`,
        { parameter: 'EncryptionCertPath', target: certificate.thumbprint },
      );
    }
    return {
      thumbprint: certificate.thumbprint,
      subject: certificate.subject,
      notAfter: certificate.notAfter.toISOString(),
      pem: certificate.pem,
    };
  }

  private certificateWarnings(config: SavedConfig): string[] {
    if (!config.certificate) return [];
    const remainingDays = (Date.parse(config.certificate.notAfter) - this.clock.now().getTime()) / DAY_MS;
    if (remainingDays <= 0) {
      return [
        `The encryption certificate ${config.certificate.thumbprint} has expired; backups are refused until a new one is set with Set-AzsBackupConfiguration -EncryptionCertPath.`,
      ];
    }
    if (remainingDays <= CERT_EXPIRY_WARNING_DAYS) {
      return [
        `The encryption certificate ${config.certificate.thumbprint} expires on ${config.certificate.notAfter} (in ${Math.ceil(remainingDays)} days). Create a new one with New-AzsBackupEncryptionCertificate and set it with Set-AzsBackupConfiguration -EncryptionCertPath.`,
      ];
    }
    return [];
  }

  private async describe(config: SavedConfig, availableCapacity: string | null): Promise<BackupLocation> {
    return {
      Path: config.path,
      UserName: config.userName,
      Password: null,
      RequireEncryption: config.requireEncryption,
      EncryptionCertThumbprint: config.certificate?.thumbprint ?? null,
      EncryptionCertExpiry: config.certificate?.notAfter ?? null,
      BackupFrequencyInHours: config.backupFrequencyInHours,
      BackupRetentionPeriodInDays: config.backupRetentionPeriodInDays,
      IsBackupSchedulerEnabled: config.isBackupSchedulerEnabled,
      AvailableCapacity: availableCapacity,
      ...(await this.scheduleTimes(config)),
      MetricsPath: config.metricsPath,
    };
  }

  /**
   * The free space on the store, or why it is unknown: a warning rather than a property, so the
   * object keeps the shape of Azs.Backup.Admin's BackupLocation and the reason still reaches the
   * console, -WarningVariable and a remote session (the warning stream is forwarded by remoting).
   */
  private async availableCapacity(
    config: SavedConfig,
    open: BackupStore | null,
  ): Promise<{ value: string | null; warning?: string }> {
    const settings = await this.stores.settingsOf(config);
    if (!settings) return { value: null };
    try {
      const capacity = await this.stores.withOpenOrConfigured(open, (store) => store.capacity());
      return { value: capacity && formatCapacity(capacity.availableBytes) };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return {
        value: null,
        warning: `AvailableCapacity is empty: the store '${settings.path}' cannot be read. ${reason} Test-AzsBackupShareAccessibility shows which step fails.`,
      };
    }
  }
}
