/** How a restore ended: the job's outcome, each role's failure, the error when nothing was restored. */
import { AzsError, isAzsError, type ErrorReason } from '../protocol/errors.js';
import type { RestoreRoleFailure, RoleStatus } from '../protocol/objects.js';
import type { JobHistory, JobInput, JobRecord } from '../state/jobHistory.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';

/** What a restore has done so far: the roles restored, those not (with why), each role's warnings. */
export interface RestoreOutcome {
  restored: string[];
  failures: Map<string, RestoreRoleFailure>;
  warnings: Map<string, string[]>;
}

export function jobOutcome(outcome: RestoreOutcome, error: unknown): JobRecord['Outcome'] {
  if (isAzsError(error, 'JobCancelled')) return 'Cancelled';
  if (!outcome.restored.length) return 'Failed';
  return error || outcome.failures.size ? 'PartialSucceeded' : 'Succeeded';
}

/** A role's failure as the restore reports it: the error's own reason, else RoleFailed. */
export function roleFailure(name: string, error: unknown, prefix: string): RestoreRoleFailure {
  const message = String((error as Error)?.message ?? error);
  return {
    RoleName: name,
    Reason: isAzsError(error) ? error.reason : 'RoleFailed',
    ErrorMessage: `${prefix}${message}`,
    File: null,
  };
}

/** A role whose stored data failed verification: its data was not touched. */
export function verificationFailure(
  backupId: string,
  name: string,
  damage: AzsError & { file: string },
): RestoreRoleFailure {
  return {
    RoleName: name,
    Reason: 'BackupCorrupt',
    ErrorMessage: `Backup ${backupId} failed verification in role ${name} (${damage.file}): ${damage.message}. Role ${name} was not restored and its current data is untouched; run Test-AzsBackup, and restore the role from an earlier backup (-RoleName ${name}).`,
    File: damage.file,
  };
}

/** The restore's error when no role could be restored: the first failure's reason, every failure's message. */
export function nothingRestored(backupId: string, failures: RestoreRoleFailure[]): AzsError {
  const [first] = failures;
  return new AzsError(
    (first?.Reason ?? 'RoleFailed') as ErrorReason,
    `Nothing was restored from backup ${backupId}. ${failures.map((failure) => failure.ErrorMessage).join(' ')}`,
    { target: first?.File ?? first?.RoleName },
  );
}

export function cancelled(backupId: string): AzsError {
  return new AzsError(
    'JobCancelled',
    `The restore of backup ${backupId} was cancelled; a role restored before it stays restored, the others were not touched.`,
  );
}

/**
 * Records the restore as it happened: a role whose data was swapped in is Succeeded, even when its
 * previous data could not be removed afterwards; that role's warnings (naming what was left where)
 * go into its ErrorMessage and the log. A role not reached stays Queued here, and the history
 * closes it as Failed with the job's error. Returns the record, for amendRestore.
 */
export async function recordRestore(
  deps: { history: JobHistory; clock: Clock; log: Logger },
  job: JobInput,
  outcome: RestoreOutcome,
  error: unknown,
): Promise<JobInput> {
  const result = jobOutcome(outcome, error);
  const failures = [...outcome.failures.values()].map((failure) => failure.ErrorMessage);
  const record: JobInput = {
    ...job,
    EndTime: deps.clock.now().toISOString(),
    Outcome: result,
    ErrorMessage: error ? String((error as Error).message ?? error) : failures.join(' ') || null,
    Roles: roleStatuses(job, outcome),
  };
  for (const [role, warnings] of outcome.warnings) {
    if (warnings.length) deps.log.warn('role restored with a warning', { role, warnings });
  }
  await deps.history.save(record);
  deps.log.info('restore finished', {
    backupId: job.BackupId,
    outcome: result,
    restored: outcome.restored,
    notRestored: [...outcome.failures.keys()],
  });
  return record;
}

/**
 * Adds to a recorded restore the warnings its roles gained after it ended (their previous data,
 * removed once the job had reported, could not all be removed); the job's end is not announced again.
 */
export async function amendRestore(
  history: JobHistory,
  record: JobInput,
  outcome: RestoreOutcome,
): Promise<void> {
  await history.amend({ ...record, Roles: roleStatuses(record, outcome) });
}

function roleStatuses(job: JobInput, outcome: RestoreOutcome): RoleStatus[] {
  return job.Roles.map((role) => {
    const name = role.RoleName;
    const failure = outcome.failures.get(name);
    if (failure) return { RoleName: name, Status: 'Failed', ErrorMessage: failure.ErrorMessage };
    if (!outcome.restored.includes(name)) return role;
    return {
      RoleName: name,
      Status: 'Succeeded',
      ErrorMessage: outcome.warnings.get(name)?.join(' ') || null,
    };
  });
}
