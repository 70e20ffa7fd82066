/**
 * The state folder's layout: the one place that names its files and folders (docs/state.md says what
 * each holds, its format, who writes it and its bound). Usable on a folder that is not opened, as the
 * CLI does to find a daemon's token, socket and log.
 */
import path from 'node:path';

export class StateLayout {
  constructor(readonly root: string) {}

  private at(...segments: string[]): string {
    return path.join(this.root, ...segments);
  }

  /** Who this deployment is (DeploymentIdentity). */
  get deploymentFile(): string {
    return this.at('deployment.json');
  }

  /** The configuration (SavedConfig), the store password sealed. */
  get configFile(): string {
    return this.at('config.json');
  }

  /** The 32-byte key that seals the secrets. */
  get secretKeyFile(): string {
    return this.at('secret.key');
  }

  /** The repository epoch this deployment writes to, its data key sealed (state/repositoryEpoch.ts). */
  get repositoryEpochFile(): string {
    return this.at('repository-epoch.json');
  }

  /** Format 4's file cache of a role: its large files' chunks at its last backup (state/fileCache.ts). */
  fileCacheFile(roleName: string): string {
    return this.at('file-cache', `${roleName}.json`);
  }

  /** The token clients present. */
  get tokenFile(): string {
    return this.at('token');
  }

  /** The manifests this deployment wrote (state/manifestLedger.ts). */
  get ledgerFile(): string {
    return this.at('ledger.json');
  }

  /** The registered infrastructure roles (state/roleStore.ts). */
  get rolesFile(): string {
    return this.at('roles.json');
  }

  /** How long each role took in its last backup (state/roleTimings.ts). */
  get roleTimingsFile(): string {
    return this.at('roleTimings.json');
  }

  /** One file per job (state/jobHistory.ts). */
  get jobsDir(): string {
    return this.at('jobs');
  }

  /** The start time of the newest Succeeded or PartialSucceeded backup (state/lastGoodBackup.ts). */
  get lastGoodBackupFile(): string {
    return this.at('last-good-backup.json');
  }

  /** Active and closed alerts (engine/alerts.ts). */
  get alertsFile(): string {
    return this.at('alerts.json');
  }

  /** The scheduler's next slot (engine/scheduler.ts). */
  get scheduleFile(): string {
    return this.at('schedule.json');
  }

  /** Rolling verification's cursor and the packs it found damaged (engine/packVerification.ts). */
  get verificationFile(): string {
    return this.at('verification.json');
  }

  /** The notification targets, secrets sealed (state/notificationTargets.ts). */
  get notificationTargetsFile(): string {
    return this.at('notifications.json');
  }

  /** Each target's last delivery and error (engine/notifications.ts). */
  get notificationStatusFile(): string {
    return this.at('notification-status.json');
  }

  /** Store free-space samples (state/capacityLog.ts). */
  get capacityFile(): string {
    return this.at('capacity.json');
  }

  /** Messages waiting for their channel (src/notify). */
  get outboxDir(): string {
    return this.at('outbox');
  }

  /** Where jobs copy data on its way: cleared at every daemon start (a job's leftovers after a crash). */
  get stagingRoot(): string {
    return this.at('staging');
  }

  get logDir(): string {
    return this.at('logs');
  }

  /** The daemon's log file (util/log.ts writes it in logDir). */
  get logFile(): string {
    return path.join(this.logDir, 'daemon.log');
  }

  /** The running daemon's lock, status and (when the path is short enough) socket: util/platform.ts. */
  get runDir(): string {
    return this.at('run');
  }

  get pidLockFile(): string {
    return path.join(this.runDir, 'daemon.pid');
  }

  get daemonStatusFile(): string {
    return path.join(this.runDir, 'daemon.json');
  }

  /** The test clock's offset, under --test-hooks only (util/clock.ts MovableClock). */
  get testClockFile(): string {
    return this.at('test-clock.json');
  }

  /** Written by `azsbackup service install`: what keeps this deployment's daemon running. */
  get serviceRecordFile(): string {
    return this.at('service.json');
  }
}
