/**
 * The RPC contract: every method's name, parameters and result, defined once. The daemon validates
 * params against these schemas before a handler runs; the PowerShell module's method names come from
 * the generated `module/Private/AzsProtocol.json`.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  Alert,
  Backup,
  BackupLocation,
  BackupTestResult,
  DaemonStatus,
  EncryptionCertificate,
  Job,
  NotificationKind,
  NotificationTarget,
  NotificationTestResult,
  ProviderName,
  ReportFile,
  RestorePlan,
  RestoreRoleFailure,
  Role,
  ShareTest,
} from './objects.js';

export interface MethodDefinition<P extends TSchema = TSchema, R extends TSchema = TSchema> {
  description: string;
  params: P;
  result: R;
  /** True for the one method a connection may call before it has authenticated. */
  beforeAuth?: boolean;
}

export const define = <P extends TSchema, R extends TSchema>(definition: MethodDefinition<P, R>) =>
  definition;
/** Methods by name: the protocol's (Methods) or a daemon's own additions (its test hooks). */
export type MethodTable = Readonly<Record<string, MethodDefinition>>;
const NoParams = Type.Object({}, { additionalProperties: false });
const Secret = Type.String({ maxLength: 1024 });
const FilePath = Type.String({ minLength: 1, maxLength: 4096 });
/** A notification target's name: what the cmdlets and the log show, so kept plain. */
const TargetName = Type.String({ minLength: 1, maxLength: 64 });
/** One role name, or several (a single string is what older clients send). */
const RoleNames = Type.Union([
  Type.String({ maxLength: 64 }),
  Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 256 }),
]);

export const StoreCredentials = {
  Path: Type.Optional(Type.String({ maxLength: 4096 })),
  UserName: Type.Optional(Type.String({ maxLength: 256 })),
  Password: Type.Optional(Secret),
  RequireEncryption: Type.Optional(Type.Boolean()),
};

export const Methods = {
  'session.authenticate': define({
    description: 'Presents the per-deployment token; must be the first message on a connection.',
    params: Type.Object({ token: Type.String({ maxLength: 256 }) }, { additionalProperties: false }),
    result: Type.Object({ deploymentId: Type.String() }),
    beforeAuth: true,
  }),
  'daemon.status': define({
    description: 'Identity and health of the running daemon.',
    params: NoParams,
    result: DaemonStatus,
  }),
  'daemon.shutdown': define({
    description: 'Stops the daemon after answering.',
    params: NoParams,
    result: Type.Object({ stopping: Type.Boolean() }),
  }),
  'config.get': define({
    description: 'The saved backup configuration (defaults before the first one).',
    params: NoParams,
    result: Type.Object({ location: BackupLocation, warnings: Type.Array(Type.String()) }),
  }),
  'config.set': define({
    description:
      'Validates and saves the given settings; settings not given keep their saved values. Nothing is saved when validation fails.',
    params: Type.Object(
      {
        ...StoreCredentials,
        EncryptionCertPath: Type.Optional(FilePath),
        BackupFrequencyInHours: Type.Optional(Type.Integer()),
        BackupRetentionPeriodInDays: Type.Optional(Type.Integer()),
        IsBackupSchedulerEnabled: Type.Optional(Type.Boolean()),
        /** A folder for azsbackup.prom (Prometheus textfile collector); an empty string stops writing it. */
        MetricsPath: Type.Optional(Type.String({ maxLength: 4096 })),
      },
      { additionalProperties: false },
    ),
    result: Type.Object({ location: BackupLocation, warnings: Type.Array(Type.String()) }),
  }),
  'store.test': define({
    description: 'Checks a store (by default the configured one): reach, authenticate, probe, capacity.',
    params: Type.Object(StoreCredentials, { additionalProperties: false }),
    result: Type.Object({ tests: Type.Array(ShareTest) }),
  }),
  'certificate.new': define({
    description:
      'Creates a self-signed RSA encryption certificate and writes its .cer and password-protected .pfx.',
    params: Type.Object(
      {
        Subject: Type.String({ minLength: 1, maxLength: 1024 }),
        CerPath: FilePath,
        PfxPath: FilePath,
        PfxPassword: Type.String({ minLength: 1, maxLength: 1024 }),
        ValidityYears: Type.Number({ exclusiveMinimum: 0 }),
        KeySize: Type.Optional(Type.Integer()),
        /** Replace an existing .cer or .pfx; without it an existing file is refused (CertificateFileExists). */
        Overwrite: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
    result: EncryptionCertificate,
  }),
  'role.register': define({
    description: 'Registers an infrastructure role (a data source backed up with every backup).',
    params: Type.Object(
      {
        Name: Type.String({ minLength: 1, maxLength: 64 }),
        Provider: ProviderName,
        Path: Type.Optional(FilePath),
        BackupScript: Type.Optional(Type.String({ maxLength: 65536 })),
        RestoreScript: Type.Optional(Type.String({ maxLength: 65536 })),
      },
      { additionalProperties: false },
    ),
    result: Role,
  }),
  'role.list': define({
    description: 'The registered roles, by name (wildcards allowed).',
    params: Type.Object(
      { Name: Type.Optional(Type.String({ maxLength: 256 })) },
      { additionalProperties: false },
    ),
    result: Type.Object({ roles: Type.Array(Role) }),
  }),
  'role.unregister': define({
    description: 'Removes a role registration; its data and earlier backups stay.',
    params: Type.Object(
      { Name: Type.String({ minLength: 1, maxLength: 64 }) },
      { additionalProperties: false },
    ),
    result: Role,
  }),
  'backup.start': define({
    description:
      'Starts a backup of every registered role. With Wait the reply comes when it ends, and job.progress notifications come meanwhile; closing the connection then cancels it.',
    params: Type.Object({ Wait: Type.Boolean() }, { additionalProperties: false }),
    result: Backup,
  }),
  'backup.list': define({
    description: 'Backups found on the store, newest first.',
    params: Type.Object(
      {
        Name: Type.Optional(Type.String({ maxLength: 256 })),
        Top: Type.Optional(Type.Integer({ minimum: 0 })),
        Skip: Type.Optional(Type.Integer({ minimum: 0 })),
      },
      { additionalProperties: false },
    ),
    result: Type.Object({ backups: Type.Array(Backup) }),
  }),
  'backup.test': define({
    description:
      'Verifies a backup: without a .pfx every stored byte against the manifest; with it every chunk decrypted and authenticated too.',
    params: Type.Object(
      {
        Name: Type.String({ minLength: 1, maxLength: 256 }),
        DecryptionCertPath: Type.Optional(FilePath),
        DecryptionCertPassword: Type.Optional(Secret),
      },
      { additionalProperties: false },
    ),
    result: Type.Object({ results: Type.Array(BackupTestResult) }),
  }),
  'backup.restorePlan': define({
    description:
      'What backup.restore would do, without the .pfx and without changing anything: each role to restore with its provider, path, the SHA-256 of its scripts, whose registration is used, and whether the backup is known to this deployment.',
    params: Type.Object(
      {
        Name: Type.String({ minLength: 1, maxLength: 256 }),
        RoleName: Type.Optional(RoleNames),
      },
      { additionalProperties: false },
    ),
    result: RestorePlan,
  }),
  'backup.restore': define({
    description:
      "Verifies, then restores a backup (every role, or the roles RoleName names). A role that fails verification or its restore is not restored and is listed in FailedRoles; the others are restored. When no role could be restored the call fails. With Wait the reply comes when it ends. A backup not known to this deployment restores only roles registered here with the same provider, unless AcceptBackupRoles adopts the backup's registrations of the others.",
    params: Type.Object(
      {
        Name: Type.String({ minLength: 1, maxLength: 256 }),
        DecryptionCertPath: FilePath,
        DecryptionCertPassword: Secret,
        RoleName: Type.Optional(RoleNames),
        AcceptBackupRoles: Type.Optional(Type.Boolean()),
        Wait: Type.Boolean(),
      },
      { additionalProperties: false },
    ),
    result: Type.Object({
      BackupId: Type.String(),
      RestoredRoles: Type.Array(Type.String()),
      FailedRoles: Type.Array(RestoreRoleFailure),
    }),
  }),
  'store.prune': define({
    description:
      'Finds files under MASBackup that belong to no complete backup and removes them (not with DryRun).',
    params: Type.Object({ DryRun: Type.Boolean() }, { additionalProperties: false }),
    result: Type.Object({ PathsToDelete: Type.Array(Type.String()) }),
  }),
  'job.list': define({
    description:
      'The job history (backup, restore, prune), newest first: only the jobs of the given outcomes and kinds when given, at most Top of them.',
    params: Type.Object(
      {
        Outcome: Type.Optional(Type.Array(Job.properties.Outcome, { minItems: 1 })),
        Kind: Type.Optional(Type.Array(Job.properties.Kind, { minItems: 1 })),
        Top: Type.Optional(Type.Integer({ minimum: 0 })),
      },
      { additionalProperties: false },
    ),
    result: Type.Object({ jobs: Type.Array(Job) }),
  }),
  'notification.add': define({
    description:
      'Adds a notification target (Webhook, Heartbeat or Syslog). The Uri is checked for its kind and the name must be new; nothing is saved otherwise. A secret is kept sealed and never returned.',
    params: Type.Object(
      {
        Name: TargetName,
        Kind: NotificationKind,
        Uri: Type.String({ minLength: 1, maxLength: 2048 }),
        Secret: Type.Optional(Secret),
      },
      { additionalProperties: false },
    ),
    result: NotificationTarget,
  }),
  'notification.list': define({
    description: 'The notification targets, by name (wildcards allowed).',
    params: Type.Object(
      { Name: Type.Optional(Type.String({ maxLength: 256 })) },
      { additionalProperties: false },
    ),
    result: Type.Object({ targets: Type.Array(NotificationTarget) }),
  }),
  'notification.remove': define({
    description: 'Removes a notification target and the messages still waiting for it.',
    params: Type.Object({ Name: TargetName }, { additionalProperties: false }),
    result: NotificationTarget,
  }),
  'notification.test': define({
    description: 'Sends a test event to a target now and returns what it answered.',
    params: Type.Object({ Name: TargetName }, { additionalProperties: false }),
    result: NotificationTestResult,
  }),
  'report.write': define({
    description:
      'Writes the self-contained HTML report (backups of the retention window, sizes, durations, free space, alerts, certificate, schedule) to OutFile.',
    params: Type.Object(
      { OutFile: FilePath, Overwrite: Type.Optional(Type.Boolean()) },
      { additionalProperties: false },
    ),
    result: ReportFile,
  }),
  'alert.list': define({
    description: 'Alerts, newest first.',
    params: Type.Object(
      { State: Type.Optional(Type.Union([Type.Literal('Active'), Type.Literal('Closed')])) },
      { additionalProperties: false },
    ),
    result: Type.Object({ alerts: Type.Array(Alert) }),
  }),
};

export type MethodName = keyof typeof Methods;
export type ParamsOf<M extends MethodName> = Static<(typeof Methods)[M]['params']>;
export type ResultOf<M extends MethodName> = Static<(typeof Methods)[M]['result']>;

export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(Methods, name);
}
