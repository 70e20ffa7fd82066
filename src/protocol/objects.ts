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
