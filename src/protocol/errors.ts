/**
 * The error table: every failure the daemon reports, defined once.
 *
 * `code` is the JSON-RPC error code (ours live outside JSON-RPC's reserved -32768..-32000 range,
 * except the protocol-level errors JSON-RPC itself defines). `reason` becomes the PowerShell error id
 * `AzsBackup.<reason>`, and `category` the ErrorRecord's ErrorCategory. The PowerShell module reads
 * this table from the generated `module/Private/AzsProtocol.json`, so the two sides cannot drift.
 */
export const ErrorTable = {
  ParseError: { code: -32700, category: 'ParserError' },
  InvalidRequest: { code: -32600, category: 'InvalidData' },
  MethodNotFound: { code: -32601, category: 'NotImplemented' },
  InvalidParameter: { code: -32602, category: 'InvalidArgument' },
  InternalError: { code: -32603, category: 'NotSpecified' },
  Unauthorized: { code: 1001, category: 'PermissionDenied' },
  MessageTooLarge: { code: 1002, category: 'LimitsExceeded' },
  EndpointNotPrivate: { code: 1003, category: 'SecurityError' },
  TooManyConnections: { code: 1004, category: 'LimitsExceeded' },
  AuthenticationTimeout: { code: 1005, category: 'OperationTimeout' },
  InvalidRange: { code: 1100, category: 'InvalidArgument' },
  NotConfigured: { code: 1101, category: 'InvalidOperation' },
  ModuleFolderInUse: { code: 1105, category: 'ResourceExists' },
  CertificateNotFound: { code: 1200, category: 'ObjectNotFound' },
  CertificateInvalid: { code: 1201, category: 'InvalidData' },
  CertificateHasPrivateKey: { code: 1202, category: 'SecurityError' },
  CertificateExpired: { code: 1203, category: 'InvalidData' },
  DecryptionCertificateMismatch: { code: 1204, category: 'SecurityError' },
  DecryptionFailed: { code: 1205, category: 'SecurityError' },
  CertificateNotAFile: { code: 1206, category: 'InvalidArgument' },
  CertificateTooLarge: { code: 1207, category: 'LimitsExceeded' },
  PathNotFound: { code: 1300, category: 'ObjectNotFound' },
  ShareUnreachable: { code: 1302, category: 'ConnectionError' },
  AuthenticationFailed: { code: 1303, category: 'AuthenticationError' },
  StoreFull: { code: 1304, category: 'QuotaExceeded' },
  StoreAccessDenied: { code: 1305, category: 'PermissionDenied' },
  StoreFault: { code: 1306, category: 'WriteError' },
  StorePathUnsafe: { code: 1310, category: 'SecurityError' },
  StateDirUnsafe: { code: 1311, category: 'SecurityError' },
  CertificateFileExists: { code: 1320, category: 'ResourceExists' },
  BackupAlreadyRunning: { code: 1400, category: 'ResourceBusy' },
  BackupNotFound: { code: 1401, category: 'ObjectNotFound' },
  BackupCorrupt: { code: 1402, category: 'InvalidData' },
  BackupFailed: { code: 1403, category: 'OperationStopped' },
  JobCancelled: { code: 1404, category: 'OperationStopped' },
  RolesNotAccepted: { code: 1406, category: 'SecurityError' },
  RoleNotFound: { code: 1500, category: 'ObjectNotFound' },
  RoleAlreadyExists: { code: 1501, category: 'ResourceExists' },
  RoleFailed: { code: 1502, category: 'OperationStopped' },
  NotificationTargetNotFound: { code: 1600, category: 'ObjectNotFound' },
  NotificationTargetExists: { code: 1601, category: 'ResourceExists' },
  ReportFileExists: { code: 1700, category: 'ResourceExists' },
} as const;

export type ErrorReason = keyof typeof ErrorTable;

/** Extra facts an error carries to the client: the parameter at fault and the object it concerns. */
export interface ErrorDetail {
  reason: ErrorReason;
  parameter?: string;
  target?: string;
}

/**
 * The one error type the engine throws for an expected failure. Its message is for the operator:
 * it says what went wrong and how to fix it, and never holds a secret.
 */
export class AzsError extends Error {
  readonly reason: ErrorReason;
  readonly parameter: string | undefined;
  readonly target: string | undefined;

  constructor(
    reason: ErrorReason,
    message: string,
    options: { parameter?: string; target?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AzsError';
    this.reason = reason;
    this.parameter = options.parameter;
    this.target = options.target;
  }

  get code(): number {
    return ErrorTable[this.reason].code;
  }

  toDetail(): ErrorDetail {
    return { reason: this.reason, parameter: this.parameter, target: this.target };
  }
}

export function isAzsError(error: unknown, reason?: ErrorReason): error is AzsError {
  return error instanceof AzsError && (reason === undefined || error.reason === reason);
}
