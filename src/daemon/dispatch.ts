/** The method table's runtime side: parameter validation and the handler for each method. */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import type { Engine } from '../engine/engine.js';
import { newEncryptionCertificate } from '../engine/encryptionCertificates.js';
import { AzsError } from '../protocol/errors.js';
import type { ProgressNotification } from '../protocol/jsonrpc.js';
import { Methods, type MethodName, type ParamsOf, type ResultOf } from '../protocol/methods.js';
import type { DaemonStatus } from '../protocol/objects.js';

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
    'config.set': (params) => engine.configuration.set(params),
    'store.test': async (params) => ({
      tests: await engine.configuration.testStore({
        path: params.Path,
        userName: params.UserName,
        password: params.Password,
        requireEncryption: params.RequireEncryption,
      }),
    }),
    'certificate.new': (params) => newEncryptionCertificate(params),
    // Being built (issues 3-6): answered with a clear error until their engine services land.
    'role.register': notYet('role.register'),
    'role.list': notYet('role.list'),
    'role.unregister': notYet('role.unregister'),
    'backup.start': notYet('backup.start'),
    'backup.list': notYet('backup.list'),
    'backup.test': notYet('backup.test'),
    'backup.restore': notYet('backup.restore'),
    'store.prune': notYet('store.prune'),
    'alert.list': notYet('alert.list'),
  };
}

function notYet(method: MethodName) {
  return async (): Promise<never> => {
    throw new AzsError('MethodNotFound', `${method} is not available in this build yet.`);
  };
}
