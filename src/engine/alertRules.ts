/**
 * The alert catalogue: every alert the engine raises, with its severity and the remediation that
 * tells the operator what to check and which cmdlet to run. Failure alerts open on a failed job and
 * close on the next successful backup; condition alerts follow a condition and close when it ends.
 */
import type { AzsError, ErrorReason } from '../protocol/errors.js';
import type { Role } from '../protocol/objects.js';
import { storeFactsOf } from '../storage/storeError.js';

export type AlertKind =
  | 'StoreOutOfCapacity'
  | 'StoreConnectivity'
  | 'StorePathFault'
  | 'StoreAuthentication'
  | 'GeneralFault'
  | 'RolesFailed'
  | 'CertificateExpiring'
  | 'CertificateExpired'
  | 'SchedulerDisabled'
  | 'StoreAlmostFull'
  | 'RoleStoredNothing'
  | 'RetentionBlocked'
  | 'PackDamaged'
  | 'NotificationTargetRejected';

export interface AlertRule {
  title: string;
  severity: 'Critical' | 'Warning';
  type: 'failure' | 'condition';
  remediation: string;
  /** A store failure's remediation when the store is a blob container, where a share's words would mislead. */
  containerRemediation?: string;
}

const RETRY = 'Then run Start-AzsBackup; the alert closes when a backup succeeds.';

/** What to do about a missing or refused store path: the path alert's remediation, also given by a listing. */
export const STORE_PATH_REMEDIATION =
  'Check that the share and folder configured as -Path exist (Get-AzsBackupConfiguration shows it); recreate them or set the right one with Set-AzsBackupConfiguration -Path.';

export const ALERT_RULES: Record<AlertKind, AlertRule> = {
  StoreOutOfCapacity: {
    title: 'Infrastructure backup failed: the external store is out of capacity',
    severity: 'Critical',
    type: 'failure',
    remediation: `Free space on the external store, move backups to a larger one (Set-AzsBackupConfiguration -Path), or lower -BackupRetentionPeriodInDays. ${RETRY}`,
    containerRemediation: `Raise the storage account's quota or move backups to another account (Set-AzsBackupConfiguration -Path), or lower -BackupRetentionPeriodInDays. ${RETRY}`,
  },
  StoreConnectivity: {
    title: 'Infrastructure backup failed: connectivity problem with the external store',
    severity: 'Critical',
    type: 'failure',
    remediation: `Check that the file server is running and reachable from this host (name resolution, port, firewall); Test-AzsBackupShareAccessibility shows which step fails. ${RETRY}`,
    containerRemediation: `Check that the blob endpoint in -Path is up and reachable from this host (name resolution, port, proxy, firewall); a service that throttles requests recovers by itself. Test-AzsBackupShareAccessibility shows which step fails. ${RETRY}`,
  },
  StorePathFault: {
    title: 'Infrastructure backup failed: fault in the external store path',
    severity: 'Critical',
    type: 'failure',
    remediation: `${STORE_PATH_REMEDIATION} ${RETRY}`,
    containerRemediation: `Check that the storage account has the container named in -Path (Get-AzsBackupConfiguration shows it): create the container, or set the right one with Set-AzsBackupConfiguration -Path. An operation refused on it needs a SAS token with sp=racwdl; a container under an immutability policy refuses deletes until the policy's period has passed. ${RETRY}`,
  },
  StoreAuthentication: {
    title: 'Infrastructure backup failed: authentication problem with the external store',
    severity: 'Critical',
    type: 'failure',
    remediation: `Check the backup account: enabled, not locked, password not expired, and allowed on the share. Update it with Set-AzsBackupConfiguration -UserName -Password. ${RETRY}`,
    containerRemediation: `Give the container a credential it accepts with Set-AzsBackupConfiguration -Password: a new SAS token (sp=racwdl, valid well beyond the next backups; the description says when the refused one expired), or the storage account's current key (after a key rotation) with the account name in -UserName. ${RETRY}`,
  },
  GeneralFault: {
    title: 'Infrastructure backup failed: general fault',
    severity: 'Critical',
    type: 'failure',
    remediation: `Read the description and the per-role errors (Get-AzsBackup, azsbackup jobs --json); fix the cause, then run Start-AzsBackup. The alert closes when a backup succeeds.`,
  },
  RolesFailed: {
    title: 'Infrastructure backup partly failed: some roles were not backed up',
    severity: 'Critical',
    type: 'failure',
    remediation: `The newest backup is not ready for cloud recovery. Fix each failed role as its line says, then run Start-AzsBackup; the alert closes when a backup succeeds for every role.`,
  },
  CertificateExpiring: {
    title: 'The backup encryption certificate expires soon',
    severity: 'Warning',
    type: 'condition',
    remediation:
      'Create a new certificate with New-AzsBackupEncryptionCertificate (keep its .pfx safe: old backups still need the old .pfx) and set it with Set-AzsBackupConfiguration -EncryptionCertPath.',
  },
  CertificateExpired: {
    title: 'The backup encryption certificate has expired: backups are refused',
    severity: 'Critical',
    type: 'condition',
    remediation:
      'Create a new certificate with New-AzsBackupEncryptionCertificate and set it with Set-AzsBackupConfiguration -EncryptionCertPath; then run Start-AzsBackup. Keep the old .pfx to restore older backups.',
  },
  SchedulerDisabled: {
    title: 'Automatic backups are disabled',
    severity: 'Warning',
    type: 'condition',
    remediation:
      'Enable the scheduler with Set-AzsBackupConfiguration -IsBackupSchedulerEnabled, or run Start-AzsBackup regularly yourself.',
  },
  StoreAlmostFull: {
    title: 'The external store is almost full',
    severity: 'Warning',
    type: 'condition',
    remediation:
      'Free space on the external store or move to a larger one (Set-AzsBackupConfiguration -Path); lowering -BackupRetentionPeriodInDays also makes room at the next backup.',
  },
  RetentionBlocked: {
    title: 'Retention could not delete old backups from the external store',
    severity: 'Warning',
    type: 'condition',
    remediation:
      'The backups retention no longer keeps stay on the store, taking its room, until they can be deleted. Let the daemon delete there: on a share or folder, delete rights for the backup account; on a blob container, a SAS token with delete permission (sp=racwdl) or the account key, and an immutability policy whose period is shorter than -BackupRetentionPeriodInDays. Retention tries again after every backup; the alert closes once it deletes what it should.',
  },
  PackDamaged: {
    title: 'A pack of the backup repository is damaged or missing: some backups cannot be restored',
    severity: 'Critical',
    type: 'condition',
    remediation:
      "The backups the description names cannot be restored in full: a role whose data is in a damaged pack fails to restore (Test-AzsBackup -Name <backup> names the role). Run Start-AzsBackup now so that a whole backup exists; it does not use the damaged packs. Check the health of the store: the file server's disks and file system (or the storage account), and that nothing else writes under MASBackup. The packs found damaged are read again after every scheduled backup; the alert closes when they read whole again or retention has deleted every backup that lists them.",
  },
  RoleStoredNothing: {
    // Critical: retention never deletes the newest backup ready for cloud recovery — this empty one —
    // so the backups that still hold the role's data are the ones it deletes.
    title: 'Infrastructure backup stored no data for a role that had data',
    severity: 'Critical',
    type: 'condition',
    remediation:
      "Check each role named: a PowerShell role's backup script must write into its staging folder ($StagingPath, also its first argument and current location; Get-AzsInfrastructureRole shows the script), a Directory role's folder must hold its data. Fix it, then run Start-AzsBackup; the alert closes when every such role stores data again (or is unregistered). Until then the role's data is only in the earlier backup named in the description: keep it before retention deletes it (Set-AzsBackupConfiguration -BackupRetentionPeriodInDays 14, or copy its folder elsewhere).",
  },
  NotificationTargetRejected: {
    title: 'A notification target refuses the messages sent to it',
    severity: 'Warning',
    type: 'condition',
    remediation:
      'Check the target named in the description: its URL (Get-AzsBackupNotificationTarget), that the receiver accepts JSON POSTs, and that its secret matches the one given with -Secret (remove the target and add it again to change it). Test-AzsBackupNotificationTarget shows what it answers; the alert closes when it accepts a message again or is removed.',
  },
};

/**
 * The failure alert a failed job raises: its kind by the reason of the error, its remediation by the
 * kind of store that failed.
 */
export function failureAlertOf(error: AzsError): { kind: AlertKind; remediation: string } {
  const kind = failureKindOf(error.reason);
  const { remediation, containerRemediation } = ALERT_RULES[kind];
  const container = storeFactsOf(error)?.backend === 'container';
  return { kind, remediation: (container && containerRemediation) || remediation };
}

function failureKindOf(reason: ErrorReason): AlertKind {
  switch (reason) {
    case 'StoreFull':
      return 'StoreOutOfCapacity';
    case 'ShareUnreachable':
      return 'StoreConnectivity';
    case 'PathNotFound':
    case 'StoreAccessDenied':
    case 'StorePathUnsafe':
      return 'StorePathFault';
    case 'AuthenticationFailed':
      return 'StoreAuthentication';
    default:
      return 'GeneralFault';
  }
}

/** What to check for one role that failed, by what its provider reads. */
export function roleRemediation(role: Pick<Role, 'Name' | 'Provider' | 'Path'>): string {
  switch (role.Provider) {
    case 'Directory':
      return `Role ${role.Name}: check that the folder ${role.Path} exists and that the daemon's account can read every file in it.`;
    case 'Sqlite':
      return `Role ${role.Name}: check that ${role.Path} is a SQLite database the daemon's account can read, and that no process holds it locked for long.`;
    case 'PowerShell':
      return `Role ${role.Name}: run its backup script by hand (Get-AzsInfrastructureRole -Name ${role.Name} shows it) and fix what it throws.`;
  }
}
