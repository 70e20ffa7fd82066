/**
 * The objects the daemon returns, as they travel on the wire. Dates are ISO-8601 UTC strings (or
 * null); the PowerShell module turns them into DateTime and adds the type names of SPEC §3.
 */
import { Type, type Static } from '@sinclair/typebox';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const DateString = Type.String({ format: 'date-time' });

export const BackupLocation = Type.Object({
  Path: Nullable(Type.String()),
  UserName: Nullable(Type.String()),
  Password: Type.Null(),
  RequireEncryption: Type.Boolean(),
  EncryptionCertThumbprint: Nullable(Type.String()),
  EncryptionCertExpiry: Nullable(DateString),
  BackupFrequencyInHours: Type.Integer(),
  BackupRetentionPeriodInDays: Type.Integer(),
  IsBackupSchedulerEnabled: Type.Boolean(),
  AvailableCapacity: Nullable(Type.String()),
  NextBackupTime: Nullable(DateString),
  LastBackupTime: Nullable(DateString),
  /** The folder where azsbackup.prom is written for Prometheus's textfile collector, if any. */
  MetricsPath: Nullable(Type.String()),
});
export type BackupLocation = Static<typeof BackupLocation>;

export const ShareTest = Type.Object({
  Check: Type.String(),
  Passed: Type.Boolean(),
  Detail: Type.String(),
  Fix: Nullable(Type.String()),
});
export type ShareTest = Static<typeof ShareTest>;

export const EncryptionCertificate = Type.Object({
  Thumbprint: Type.String(),
  Subject: Type.String(),
  NotAfter: DateString,
  CerPath: Type.String(),
  PfxPath: Type.String(),
});
export type EncryptionCertificate = Static<typeof EncryptionCertificate>;

export const DaemonStatus = Type.Object({
  pid: Type.Integer(),
  version: Type.String(),
  stateDir: Type.String(),
  socket: Type.String(),
  deploymentId: Type.String(),
  location: Type.String(),
  startedAt: DateString,
});
export type DaemonStatus = Static<typeof DaemonStatus>;

export const BackupStatus = Type.Union(
  ['Creating', 'Queued', 'Running', 'Succeeded', 'PartialSucceeded', 'Failed', 'Skipped', 'Deleted'].map(
    (value) => Type.Literal(value),
  ),
);
export type BackupStatus =
  'Creating' | 'Queued' | 'Running' | 'Succeeded' | 'PartialSucceeded' | 'Failed' | 'Skipped' | 'Deleted';

export const RoleStatus = Type.Object({
  RoleName: Type.String(),
  Status: BackupStatus,
  ErrorMessage: Nullable(Type.String()),
});
export type RoleStatus = Static<typeof RoleStatus>;

/** A backup's own fields: what its manifest records (BackupInfo.json). */
export const BackupRecord = Type.Object({
  BackupId: Type.String(),
  Name: Type.String(),
  Status: BackupStatus,
  RoleStatus: Type.Array(RoleStatus),
  CreatedDateTime: DateString,
  TimeTakenToCreate: Nullable(Type.String()),
  BackupDataVersion: Type.String(),
  DeploymentId: Type.String(),
  StampVersion: Type.String(),
  IsCloudRecoveryReady: Type.Boolean(),
  EncryptionCertThumbprint: Nullable(Type.String()),
  BackupSizeInKb: Type.Number(),
  CompressedBackupSizeInKb: Type.Number(),
  IsAutomaticBackup: Type.Boolean(),
  CompletelyUploaded: Type.Boolean(),
});
export type BackupRecord = Static<typeof BackupRecord>;

/**
 * The Backup object as Azure Stack's Get-AzsBackup shows it: the record plus the resource fields
 * every Azure Stack admin object carries (derived, so not stored), and whether this deployment wrote
 * it (its ledger holds the manifest's digest; never part of the manifest).
 */
export const Backup = Type.Composite([
  BackupRecord,
  Type.Object({
    IsKnownToDeployment: Type.Boolean(),
    Id: Type.String(),
    Type: Type.String(),
    Location: Type.String(),
    Tags: Type.Record(Type.String(), Type.String()),
    OemVersion: Nullable(Type.String()),
  }),
]);
export type Backup = Static<typeof Backup>;

export const ProviderName = Type.Union([
  Type.Literal('Directory'),
  Type.Literal('Sqlite'),
  Type.Literal('PowerShell'),
]);

export const Role = Type.Object({
  Name: Type.String(),
  Provider: ProviderName,
  Path: Nullable(Type.String()),
  BackupScript: Nullable(Type.String()),
  RestoreScript: Nullable(Type.String()),
  RegisteredTime: DateString,
});
export type Role = Static<typeof Role>;

/** One role a restore would restore, as -WhatIf and the confirmation show it. */
export const RestorePlanRole = Type.Object({
  RoleName: Type.String(),
  Provider: ProviderName,
  Path: Nullable(Type.String()),
  /** SHA-256 (hex) of each script that would run: BackupScript, RestoreScript; none for other providers. */
  BackupScriptSha256: Nullable(Type.String()),
  RestoreScriptSha256: Nullable(Type.String()),
  /**
   * 'Registered': this deployment's own registration of the role is used. 'Backup': the
   * registration recorded in the backup is adopted, which a backup not known to this deployment may
   * do only with AcceptBackupRoles.
   */
  Registration: Type.Union([Type.Literal('Registered'), Type.Literal('Backup')]),
  RequiresAcceptance: Type.Boolean(),
});
export type RestorePlanRole = Static<typeof RestorePlanRole>;

export const RestorePlan = Type.Object({
  BackupId: Type.String(),
  IsKnownToDeployment: Type.Boolean(),
  Roles: Type.Array(RestorePlanRole),
});
export type RestorePlan = Static<typeof RestorePlan>;

/** A role a restore did not restore: why (a reason of the error table), and the file at fault if any. */
export const RestoreRoleFailure = Type.Object({
  RoleName: Type.String(),
  Reason: Type.String(),
  ErrorMessage: Type.String(),
  File: Nullable(Type.String()),
});
export type RestoreRoleFailure = Static<typeof RestoreRoleFailure>;

export const BackupTestResult = Type.Object({
  BackupId: Type.String(),
  RoleName: Type.String(),
  Status: Type.Union([Type.Literal('Succeeded'), Type.Literal('Failed')]),
  ErrorMessage: Nullable(Type.String()),
  File: Nullable(Type.String()),
});
export type BackupTestResult = Static<typeof BackupTestResult>;

export const Alert = Type.Object({
  AlertId: Type.String(),
  Title: Type.String(),
  Severity: Type.Union([Type.Literal('Critical'), Type.Literal('Warning')]),
  State: Type.Union([Type.Literal('Active'), Type.Literal('Closed')]),
  CreatedTime: DateString,
  ClosedTime: Nullable(DateString),
  Description: Type.String(),
  Remediation: Type.String(),
  BackupId: Nullable(Type.String()),
});
export type Alert = Static<typeof Alert>;

/** What one role of a backup stored and how long it took (kept with the job for metrics and the report). */
export const RoleMeasure = Type.Object({
  RoleName: Type.String(),
  SourceBytes: Type.Integer({ minimum: 0 }),
  StoredBytes: Type.Integer({ minimum: 0 }),
  DurationSeconds: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
});
export type RoleMeasure = Static<typeof RoleMeasure>;

export const Job = Type.Object({
  JobId: Type.String(),
  Kind: Type.Union([Type.Literal('Backup'), Type.Literal('Restore'), Type.Literal('Prune')]),
  BackupId: Nullable(Type.String()),
  IsAutomatic: Type.Boolean(),
  StartTime: DateString,
  EndTime: Nullable(DateString),
  Outcome: Type.Union([
    Type.Literal('Running'),
    Type.Literal('Succeeded'),
    Type.Literal('PartialSucceeded'),
    Type.Literal('Failed'),
    Type.Literal('Skipped'),
    Type.Literal('Cancelled'),
  ]),
  ErrorMessage: Nullable(Type.String()),
  Roles: Type.Array(RoleStatus),
  /** A backup's total source and stored bytes once it stored something; null otherwise. */
  SourceBytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  StoredBytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  /** Each stored role's sizes and duration (backups only; empty for other jobs). */
  RoleMeasures: Type.Array(RoleMeasure),
});
export type Job = Static<typeof Job>;

export const NotificationKind = Type.Union([
  Type.Literal('Webhook'),
  Type.Literal('Heartbeat'),
  Type.Literal('Syslog'),
]);
export type NotificationKind = Static<typeof NotificationKind>;

/** A notification target as clients see it: never its secret, only whether one is set. */
export const NotificationTarget = Type.Object({
  Name: Type.String(),
  Kind: NotificationKind,
  Uri: Type.String(),
  HasSecret: Type.Boolean(),
  CreatedTime: DateString,
  /** Messages waiting in the outbox for this target (webhooks only; 0 for the others). */
  PendingMessages: Type.Integer({ minimum: 0 }),
  LastDeliveryTime: Nullable(DateString),
  LastError: Nullable(Type.String()),
});
export type NotificationTarget = Static<typeof NotificationTarget>;

/** What a target answered to a test event. */
export const NotificationTestResult = Type.Object({
  Name: Type.String(),
  Kind: NotificationKind,
  Uri: Type.String(),
  Succeeded: Type.Boolean(),
  /** The HTTP status for Webhook and Heartbeat targets; null for Syslog or when nothing answered. */
  StatusCode: Type.Union([Type.Integer(), Type.Null()]),
  /** The start of what the target answered, or why nothing was delivered. */
  Response: Type.String(),
  DurationMilliseconds: Type.Integer({ minimum: 0 }),
});
export type NotificationTestResult = Static<typeof NotificationTestResult>;

/** The report Get-AzsBackupReport wrote. */
export const ReportFile = Type.Object({
  Path: Type.String(),
  Bytes: Type.Integer({ minimum: 0 }),
  GeneratedTime: DateString,
  Backups: Type.Integer({ minimum: 0 }),
  ActiveAlerts: Type.Integer({ minimum: 0 }),
});
export type ReportFile = Static<typeof ReportFile>;
