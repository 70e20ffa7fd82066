/** The method table's runtime side: parameter validation and the handler for each method. */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import type { Engine } from '../engine/engine.js';
import { newEncryptionCertificate } from '../engine/encryptionCertificates.js';
import { AzsError } from '../protocol/errors.js';
import type { ProgressNotification } from '../protocol/jsonrpc.js';
import { Methods, type MethodName, type ParamsOf, type ResultOf } from '../protocol/methods.js';
import type { DaemonStatus } from '../protocol/objects.js';
import { MovableClock } from '../util/clock.js';

export interface RequestContext {
  /** Aborted when the client's connection closes: long work stops cleanly. */
  signal: AbortSignal;
  progress(update: Omit<ProgressNotification, 'requestId'>): void;
}

export type Handlers = {
  [M in MethodName]: (params: ParamsOf<M>, context: RequestContext) => Promise<ResultOf<M>>;
};

const checkers = new Map<MethodName, TypeCheck<TSchema>>(
  (Object.keys(Methods) as MethodName[]).map((name) => [name, TypeCompiler.Compile(Methods[name].params)]),
);

export function validateParams<M extends MethodName>(method: M, params: unknown): ParamsOf<M> {
  const checker = checkers.get(method)!;
  if (checker.Check(params)) return params as ParamsOf<M>;
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
  shutdown(): void;
}

export function createHandlers(engine: Engine, daemon: DaemonControl): Handlers {
  return {
    'session.authenticate': async () => {
      throw new Error('session.authenticate is handled by the connection');
    },
    'daemon.status': async () => daemon.status(),
    'daemon.shutdown': async () => {
      setImmediate(() => daemon.shutdown());
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
      const waiting = params.Wait ? { progress: context.progress, signal: context.signal } : {};
      const { backup, done } = await engine.backups.start({ isAutomatic: false, ...waiting });
      return params.Wait ? done : backup;
    },
    'backup.list': async (params) => ({ backups: await engine.listBackups(params) }),
    'backup.test': async ({ Name, DecryptionCertPath, DecryptionCertPassword }) => {
      const decryption = DecryptionCertPath
        ? { DecryptionCertPath, DecryptionCertPassword: DecryptionCertPassword ?? '' }
        : null;
      return {
        results: await engine.withConfiguredStore((store) => engine.recovery.test(store, Name, decryption)),
      };
    },
    'backup.restorePlan': ({ Name, RoleName }) =>
      engine.withConfiguredStore((store) => engine.recovery.plan(store, Name, RoleName)),
    'backup.restore': async ({ Wait, ...request }, context) => {
      let accepted = (_backupId: string) => {};
      const acceptance = new Promise<string>((resolve) => (accepted = resolve));
      const restore = engine.withConfiguredStore((store) =>
        engine.recovery.restore(
          store,
          request,
          Wait ? context.progress : () => undefined,
          Wait ? context.signal : new AbortController().signal,
          accepted,
        ),
      );
      if (Wait) return restore;
      // Without Wait the reply comes once the request is checked; a bad .pfx still fails the call.
      const backupId = await Promise.race([acceptance, restore.then((result) => result.BackupId)]);
      restore.catch((error: unknown) =>
        engine.log.error('restore failed', { backupId, error: String((error as Error).message ?? error) }),
      );
      return { BackupId: backupId, RestoredRoles: [], FailedRoles: [] };
    },
    'store.prune': (params) => engine.prune(params.DryRun),
    'job.list': async (params) => ({ jobs: await engine.history.find(params) }),
    'test.advanceClock': async (params) => {
      if (!(engine.clock instanceof MovableClock))
        throw new AzsError('MethodNotFound', "There is no method 'test.advanceClock'.");
      const now = await engine.clock.advance(params.Hours * 3600 * 1000);
      await engine.scheduler.tick();
      await engine.housekeeping.evaluateConditions();
      return { now: now.toISOString() };
    },
    'alert.list': async (params) => ({ alerts: await engine.alerts.list(params.State) }),
    'notification.add': (params) => engine.notifications.add(params),
    'notification.list': async (params) => ({ targets: await engine.notifications.list(params.Name) }),
    'notification.remove': (params) => engine.notifications.remove(params.Name),
    'notification.test': (params) => engine.notifications.test(params.Name),
    'report.write': (params) => engine.reports.write(params),
  };
}
