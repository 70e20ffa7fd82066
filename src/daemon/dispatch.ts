/** The method table's runtime side: parameter validation and the handler for each method. */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { Static, TSchema } from '@sinclair/typebox';
import type { Engine } from '../engine/engine.js';
import { newEncryptionCertificate } from '../engine/encryptionCertificates.js';
import type { JobProgress, JobRunOptions } from '../engine/job.js';
import { AzsError } from '../protocol/errors.js';
import type { ProgressNotification } from '../protocol/jsonrpc.js';
import {
  Methods,
  type MethodDefinition,
  type MethodName,
  type MethodTable,
  type ParamsOf,
} from '../protocol/methods.js';
import type { DaemonStatus } from '../protocol/objects.js';

export interface RequestContext {
  /** Aborted when the client's connection closes: long work stops cleanly. */
  signal: AbortSignal;
  progress(update: Omit<ProgressNotification, 'requestId'>): void;
}

/** The handler of each method of a table, typed by its definition. */
export type HandlersOf<T extends MethodTable> = {
  [M in keyof T]: (
    params: Static<T[M]['params']>,
    context: RequestContext,
  ) => Promise<Static<T[M]['result']>>;
};

export type Handlers = HandlersOf<typeof Methods>;

/** A method as a daemon serves it: its definition (params checked against it) and its handler. */
export interface DaemonMethod {
  definition: MethodDefinition;
  handle(params: unknown, context: RequestContext): Promise<unknown>;
}

export type DaemonMethods = ReadonlyMap<string, DaemonMethod>;

export function daemonMethods<T extends MethodTable>(definitions: T, handlers: HandlersOf<T>): DaemonMethods {
  return new Map(
    Object.entries(definitions).map(([name, definition]) => [
      name,
      { definition, handle: handlers[name] as DaemonMethod['handle'] },
    ]),
  );
}

const checkers = new WeakMap<MethodDefinition, TypeCheck<TSchema>>();

function checkerOf(definition: MethodDefinition): TypeCheck<TSchema> {
  let checker = checkers.get(definition);
  if (!checker) checkers.set(definition, (checker = TypeCompiler.Compile(definition.params)));
  return checker;
}

export function validateParams<M extends MethodName>(method: M, params: unknown): ParamsOf<M> {
  return checkParams(method, Methods[method], params) as ParamsOf<M>;
}

/** The params if they fit the method's definition; InvalidParameter naming the first misfit otherwise. */
export function checkParams(method: string, definition: MethodDefinition, params: unknown): unknown {
  const checker = checkerOf(definition);
  if (checker.Check(params)) return params;
  const first = checker.Errors(params).First();
  const parameter = first?.path.replace(/^\//, '').split('/')[0] || undefined;
  throw new AzsError(
    'InvalidParameter',
    `Invalid parameters for ${method}: ${parameter ? `${parameter}: ` : ''}${first?.message ?? 'wrong shape'}.`,
    {
      parameter,
    },
  );
}

export interface DaemonControl {
  status(): DaemonStatus;
  shutdown(): Promise<void>;
}

export function createHandlers(engine: Engine, daemon: DaemonControl): Handlers {
  return {
    'session.authenticate': async () => {
      throw new Error('session.authenticate is handled by the connection');
    },
    'daemon.status': async () => daemon.status(),
    'daemon.shutdown': async () => {
      // The caller has its answer by then; a shutdown that fails can only be logged.
      setImmediate(() => {
        daemon
          .shutdown()
          .catch((error: unknown) =>
            engine.log.error('daemon shutdown failed', { error: String((error as Error).message ?? error) }),
          );
      });
      return { stopping: true };
    },
    'config.get': () => engine.configuration.get(),
    'config.set': (params) => engine.setConfiguration(params),
    'store.test': async (params) => ({
      tests: await engine.configuration.testStore({
        path: params.Path,
        userName: params.UserName,
        password: params.Password,
        requireEncryption: params.RequireEncryption,
      }),
    }),
    'certificate.new': (params) => newEncryptionCertificate(params),
    'role.register': (params) => engine.roles.register(params),
    'role.list': async (params) => ({ roles: await engine.roles.find(params.Name) }),
    'role.unregister': (params) => engine.roles.unregister(params.Name),
    'backup.start': async (params, context) => {
      const job = engine.startBackup(params.Wait ? following(context) : {});
      return params.Wait ? job.done : job.accepted;
    },
    'backup.list': async (params) => ({ backups: await engine.listBackups(params) }),
    'backup.test': async ({ Name, DecryptionCertPath, DecryptionCertPassword }) => {
      const decryption = DecryptionCertPath
        ? { DecryptionCertPath, DecryptionCertPassword: DecryptionCertPassword ?? '' }
        : null;
      return { results: await engine.testBackup(Name, decryption) };
    },
    'backup.restorePlan': ({ Name, RoleName }) => engine.restorePlan(Name, RoleName),
    'backup.restore': async ({ Wait, ...request }, context) => {
      const job = engine.restore(request, Wait ? following(context) : {});
      if (Wait) return job.done;
      // Without Wait the reply comes once the request is checked; a bad .pfx still fails the call.
      const backupId = await job.accepted;
      job.done.catch((error: unknown) =>
        engine.log.error('restore failed', { backupId, error: String((error as Error).message ?? error) }),
      );
      return { BackupId: backupId, RestoredRoles: [], FailedRoles: [] };
    },
    'store.prune': (params) => engine.prune(params.DryRun).done,
    'job.list': async (params) => ({ jobs: await engine.history.find(params) }),
    'alert.list': async (params) => ({ alerts: await engine.alerts.list(params.State) }),
    'notification.add': (params) => engine.notifications.add(params),
    'notification.list': async (params) => ({ targets: await engine.notifications.list(params.Name) }),
    'notification.remove': (params) => engine.notifications.remove(params.Name),
    'notification.test': (params) => engine.notifications.test(params.Name),
    'report.write': (params) => engine.reports.write(params),
  };
}

/** A waiting caller follows the job: its progress shown, and the job cancelled if it goes away. */
function following(context: RequestContext): JobRunOptions {
  return { progress: (event) => context.progress(progressText(event)), signal: context.signal };
}

const megabytes = (bytes: number) => (bytes / 1048576).toFixed(1);

/** A backup's status line: the role, where it stands, the bytes read and the roles done. */
const backupStatus = (word: string) => (event: JobProgress) =>
  `${event.role}: ${word}${event.bytes ? `, ${megabytes(event.bytes)} MB read` : ''} (${event.done} of ${event.total} roles done)`;

/** A restore's status line: the role, its stored bytes read of all, the roles done. */
const restoreStatus = (event: JobProgress) =>
  `${event.role}: restoring${event.bytes ? `, ${megabytes(event.bytes)} of ${megabytes(event.totalBytes ?? event.bytes)} MB read` : ''} (${event.done} of ${event.total} roles done)`;

/** Each phase's Write-Progress activity and status line. */
const PHASES: Record<JobProgress['phase'], { activity: string; status: (event: JobProgress) => string }> = {
  backingUp: { activity: 'Backing up infrastructure roles', status: backupStatus('Running') },
  backedUp: { activity: 'Backing up infrastructure roles', status: backupStatus('Succeeded') },
  backupFailed: { activity: 'Backing up infrastructure roles', status: backupStatus('Failed') },
  restoring: { activity: 'Restoring infrastructure roles', status: restoreStatus },
};

/** A job's progress event as the module's Write-Progress shows it. */
export function progressText(event: JobProgress): Omit<ProgressNotification, 'requestId'> {
  const phase = PHASES[event.phase];
  return {
    activity: phase.activity,
    status: phase.status(event),
    percentComplete: Math.floor((100 * event.done) / event.total),
    roleName: event.role,
  };
}
