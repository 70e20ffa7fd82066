/**
 * Scenario 4, hostile input: the socket fuzzer (≥10,000 messages; the daemon answers or closes the
 * connection, stays up, and its memory stays bounded), cmdlet-level parameters with path traversal,
 * NUL bytes, very long strings and wildcards sent through the RPC methods (clear errors, nothing
 * written outside the store), and crafted backup folders on the store (not listed, refused by
 * backup.test and backup.restore, no role data touched).
 */
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FORMAT_VERSION } from '../../src/archive/manifest.js';
import { RpcError } from '../../src/daemon/client.js';
import type { MethodName, ParamsOf } from '../../src/protocol/methods.js';
import { defaultEndpoint } from '../../src/util/platform.js';
import type { TestDaemon } from '../../test/helpers/daemon.js';
import { PFX_PASSWORD, type Deployment } from '../../test/helpers/deployment.js';
import { fuzzSocket } from './fuzz.js';
import {
  backupFolderOnDisk,
  Cleanup,
  digestsOf,
  directoryRole,
  errorMessage,
  residentMiB,
  sleep,
  sqliteRole,
  Tally,
  within,
  type RoleCheck,
  type SuiteOptions,
  startDeployment,
} from './common.js';

const MEMORY_BOUND_MIB = 100;
/** A daemon.status that takes longer than this while another client's request runs: the event loop is stuck. */
const RESPONSIVE_MS = 5_000;

interface Context {
  daemon: TestDaemon;
  deployment: Deployment;
  tally: Tally;
  options: SuiteOptions;
  roles: RoleCheck[];
}

async function fuzz(context: Context, total: number): Promise<void> {
  const { daemon, tally, options } = context;
  const token = readFileSync(path.join(daemon.stateDir, 'token'), 'utf8').trim();
  const before = residentMiB(daemon.pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, residentMiB(daemon.pid))), 100);
  const outcome = await fuzzSocket(defaultEndpoint(daemon.stateDir), token, total).finally(() =>
    clearInterval(sampler),
  );
  await sleep(500);
  const after = residentMiB(daemon.pid);
  tally.runs += 1;
  tally.injected += outcome.sent;
  options.log(
    `hostile: fuzzer sent ${outcome.sent} messages on ${outcome.connections} connections; ${outcome.replies} replies, ` +
      `${outcome.closedByDaemon} closed by the daemon; VmRSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} → ${after.toFixed(0)} MiB`,
  );
  tally.check(outcome.sent >= 10_000 || total < 10_000, `the fuzzer sent only ${outcome.sent} messages`);
  for (const reply of outcome.malformedReplies.slice(0, 5))
    tally.fail(`fuzzer: a reply that is not JSON-RPC: ${reply}`);
  for (const reply of outcome.unauthenticatedResults.slice(0, 5))
    tally.leak(`an unauthenticated request got a result: ${reply}`);
  tally.check(
    after - before < MEMORY_BOUND_MIB,
    `daemon memory grew by ${(after - before).toFixed(0)} MiB under the fuzzer`,
  );
  await stillAnswers(context, 'after the fuzzer');
}

async function stillAnswers(context: Context, when: string): Promise<boolean> {
  const status = await within(context.daemon.call('daemon.status', {}), 30_000, 'daemon.status').catch(
    (error: unknown) => error,
  );
  return context.tally.check(
    !(status instanceof Error),
    `the daemon does not answer ${when}: ${errorMessage(status)}`,
  );
}

/** A call that must be refused with a clear error (an AzsError reason, not InternalError). */
async function refused<M extends MethodName>(
  context: Context,
  method: M,
  params: ParamsOf<M>,
  label: string,
): Promise<void> {
  context.tally.runs += 1;
  context.tally.injected += 1;
  const result = await within(context.daemon.call(method, params), 60_000, method).catch(
    (error: unknown) => error,
  );
  if (!(result instanceof RpcError)) {
    context.tally.fail(
      `${method} ${label}: accepted (${errorMessage(result) || JSON.stringify(result).slice(0, 200)})`,
    );
    return;
  }
  context.tally.check(
    result.data?.reason !== undefined && result.data.reason !== 'InternalError' && result.message.length > 20,
    `${method} ${label}: unclear error ${result.data?.reason}: ${result.message}`,
  );
}

/** A call whose acceptance is a design question rather than a fault: noted, not failed. */
async function noteIfAccepted<M extends MethodName>(
  context: Context,
  method: M,
  params: ParamsOf<M>,
  note: string,
): Promise<void> {
  const result = await within(context.daemon.call(method, params), 120_000, method).catch(
    (error: unknown) => error,
  );
  if (!(result instanceof Error)) context.tally.note(note);
}

/** A read-only call that may answer or refuse, but must answer. */
async function answers<M extends MethodName>(
  context: Context,
  method: M,
  params: ParamsOf<M>,
  label: string,
): Promise<void> {
  context.tally.runs += 1;
  context.tally.injected += 1;
  const result = await within(context.daemon.call(method, params), 60_000, method).catch(
    (error: unknown) => error,
  );
  if (result instanceof RpcError)
    context.tally.check(
      result.data?.reason !== 'InternalError',
      `${method} ${label}: InternalError: ${result.message}`,
    );
  else if (result instanceof Error) context.tally.fail(`${method} ${label}: ${result.message}`);
}

/** The daemon keeps answering others while one client's wildcard is matched (no runaway regular expression). */
async function responsiveDuring(context: Context, name: string): Promise<void> {
  context.tally.runs += 1;
  context.tally.injected += 1;
  const slow = context.daemon.call('backup.list', { Name: name }).catch(() => undefined);
  await sleep(50);
  const started = Date.now();
  await context.daemon.call('daemon.status', {});
  const waited = Date.now() - started;
  context.tally.check(
    waited < RESPONSIVE_MS,
    `backup.list -Name '${name}' blocked the daemon for ${(waited / 1000).toFixed(1)} s (a wildcard turned into a backtracking regular expression)`,
  );
  await slow;
}

async function hostileParameters(context: Context): Promise<void> {
  const { deployment } = context;
  const outside = path.join(path.dirname(deployment.root), `rel-outside-${randomUUID().slice(0, 8)}`);
  const traversals = [
    `${deployment.store}/../../${path.basename(outside)}`,
    `..\\..\\..\\${path.basename(outside)}`,
    `${deployment.store}\\..\\..\\${path.basename(outside)}`,
    `\\\\127.0.0.1\\share\\..\\..\\${path.basename(outside)}`,
  ];
  const hostileNames = ['../../x', '..\\..\\x', 'a\u0000b', 'CA*', '*', 'x'.repeat(64) + 'y', ' ', '.', '..'];
  for (const Path of [...traversals, 'x'.repeat(5000), `${deployment.store}\u0000x`, '*', '?:\\*'])
    await refused(context, 'config.set', { Path }, `Path '${Path.slice(0, 60)}'`);
  await refused(context, 'config.set', { UserName: 'x'.repeat(300) }, 'UserName of 300 characters');
  await refused(context, 'config.set', { Password: 'p'.repeat(2000) }, 'Password of 2000 characters');
  await refused(
    context,
    'config.set',
    { EncryptionCertPath: `${deployment.cerPath}\u0000.cer` },
    'EncryptionCertPath with NUL',
  );
  for (const Name of hostileNames)
    await refused(
      context,
      'role.register',
      { Name, Provider: 'Directory', Path: deployment.folder },
      `Name '${Name.slice(0, 40)}'`,
    );
  for (const Path of [
    `${deployment.folder}\u0000`,
    `${deployment.folder}/../../../../${path.basename(outside)}`,
    'relative/../../x',
  ])
    await refused(
      context,
      'role.register',
      { Name: 'Hostile', Provider: 'Directory', Path },
      `Path '${Path.slice(-40)}'`,
    );
  for (const Name of ['../../*', '..\\..\\', '\u0000', '[', '*'.repeat(256), 'x'.repeat(256)]) {
    await answers(context, 'backup.list', { Name }, `Name '${Name.slice(0, 40)}'`);
    await answers(context, 'role.list', { Name }, `Name '${Name.slice(0, 40)}'`);
  }
  await responsiveDuring(context, `${'*?'.repeat(11)}z`);
  const restore = {
    DecryptionCertPath: deployment.pfxPath,
    DecryptionCertPassword: PFX_PASSWORD,
    Wait: true,
  };
  const [latest] = (await context.daemon.call('backup.list', {})).backups;
  for (const Name of ['..\\..\\', '../../x', 'a\u0000b'])
    await refused(context, 'backup.restore', { ...restore, Name }, `Name '${Name}'`);
  await noteIfAccepted(
    context,
    'backup.restore',
    { ...restore, Name: '*' },
    "a wildcard -Name ('*') restores the one backup it matches",
  );
  await noteIfAccepted(
    context,
    'role.register',
    { Name: 'CON', Provider: 'Directory', Path: deployment.folder },
    "role name 'CON' is accepted, a name a Windows file server refuses as a folder",
  );
  await context.daemon.call('role.unregister', { Name: 'CON' }).catch(() => undefined);
  for (const RoleName of ['../../x', '..\\..\\x', 'CA\u0000', '*', 'x'.repeat(64)])
    await refused(
      context,
      'backup.restore',
      { ...restore, Name: latest!.BackupId, RoleName },
      `RoleName '${RoleName.slice(0, 40)}'`,
    );
  await refused(
    context,
    'backup.test',
    { Name: '../../x', DecryptionCertPath: `${deployment.pfxPath}\u0000` },
    'Name ../../x',
  );
  if (existsSync(outside)) context.tally.leak(`a hostile parameter created ${outside}`);
  const roles = (await context.daemon.call('role.list', {})).roles.map((role) => role.Name).sort();
  context.tally.check(roles.join() === 'CA,ECE,WAS', `the registered roles changed: ${roles.join()}`);
}

/** Where a crafted role file path climbing out of the backup folder points. */
const OUTSIDE_TARGET = '/tmp/x';

type ManifestEdit = (manifest: Record<string, any>) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

const CRAFTED: Array<{ name: string; edit: ManifestEdit | string }> = [
  { name: "role file path '../../x'", edit: (m) => (m.Roles[0].Files[0].Path = '../../x') },
  {
    name: 'role file path outside the folder',
    edit: (m) =>
      (m.Roles[0].Files[0].Path = `${m.Roles[0].Registration.Name}/../../../../..${OUTSIDE_TARGET}`),
  },
  { name: "role name '../../x'", edit: (m) => (m.Roles[0].Registration.Name = '../../x') },
  { name: 'huge sizes', edit: (m) => ((m.Roles[0].Files[0].Size = 2 ** 60), (m.BackupSizeInKb = 1e300)) },
  { name: 'bad base64 key', edit: (m) => (m.Encryption.WrappedKey = 'not*base64!'.repeat(40)) },
  { name: 'unknown format version', edit: (m) => (m.FormatVersion = FORMAT_VERSION + 1) },
  { name: 'block size 0', edit: (m) => (m.Encryption.BlockSize = 0) },
  { name: 'not JSON', edit: '{"BackupId": "' },
  { name: 'JSON of 70 MB', edit: `{"pad": "${'x'.repeat(70 * 1024 * 1024)}"}` },
];

/** Copies a real backup under a new id and spoils its manifest. */
function craft(store: string, source: string, edit: ManifestEdit | string): string {
  const id = randomUUID();
  const folder = path.join(store, 'MASBackup', '20300101T000000Z', id);
  mkdirSync(path.dirname(folder), { recursive: true });
  cpSync(source, folder, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(source, 'BackupInfo.json'), 'utf8'));
  manifest.BackupId = id;
  manifest.Name = `${manifest.Location}/${id}`;
  const text = typeof edit === 'string' ? edit : (edit(manifest), JSON.stringify(manifest, null, 2));
  writeFileSync(path.join(folder, 'BackupInfo.json'), text);
  return id;
}

async function craftedBackups(context: Context): Promise<void> {
  const { daemon, deployment, tally } = context;
  const [real] = (await daemon.call('backup.list', {})).backups;
  const source = backupFolderOnDisk(deployment.store, real!.BackupId)!;
  const before = await digestsOf(context.roles);
  // /tmp is the machine's: another program may have made a /tmp/x before; only a change counts.
  const outsideBefore = changeTimeOf(OUTSIDE_TARGET);
  if (outsideBefore !== null)
    tally.note(`${OUTSIDE_TARGET} existed before the crafted backups: only a change to it counts`);
  for (const { name, edit } of CRAFTED) {
    tally.runs += 1;
    tally.injected += 1;
    const id = craft(deployment.store, source, edit);
    const listed = (await daemon.call('backup.list', {})).backups.some((backup) => backup.BackupId === id);
    tally.check(!listed, `crafted backup (${name}) is listed`);
    await refused(
      context,
      'backup.test',
      { Name: id, DecryptionCertPath: deployment.pfxPath, DecryptionCertPassword: PFX_PASSWORD },
      `crafted (${name})`,
    );
    await refused(
      context,
      'backup.restore',
      { Name: id, DecryptionCertPath: deployment.pfxPath, DecryptionCertPassword: PFX_PASSWORD, Wait: true },
      `crafted (${name})`,
    );
  }
  const after = await digestsOf(context.roles);
  for (const role of context.roles)
    if (after[role.name] !== before[role.name])
      tally.lose(`role ${role.name} data changed while crafted backups were refused`);
  if (changeTimeOf(OUTSIDE_TARGET) !== outsideBefore)
    tally.leak(`a crafted manifest made the daemon write ${OUTSIDE_TARGET}`);
}

/** When `file` last changed (its ctime), or null when there is nothing there. */
function changeTimeOf(file: string): number | null {
  return lstatSync(file, { throwIfNoEntry: false })?.ctimeMs ?? null;
}

export async function hostileInput(options: SuiteOptions): Promise<Tally> {
  const tally = new Tally('4. hostile input');
  const cleanup = new Cleanup();
  try {
    const { daemon, deployment } = await startDeployment(cleanup);
    const roles = [
      directoryRole('CA', deployment.folder),
      sqliteRole('WAS', deployment.database),
      directoryRole('ECE', deployment.scripted),
    ];
    const context: Context = { daemon, deployment, tally, options, roles };
    const backup = await daemon.call('backup.start', { Wait: true });
    if (tally.check(backup.Status === 'Succeeded', `the first backup ended ${backup.Status}`))
      tally.committed += 1;
    await fuzz(context, options.short ? 10_000 : 50_000);
    await hostileParameters(context);
    await stillAnswers(context, 'after hostile parameters');
    await craftedBackups(context);
    await stillAnswers(context, 'after crafted backups');
    const verified = await daemon.call('backup.test', {
      Name: backup.BackupId,
      DecryptionCertPath: deployment.pfxPath,
      DecryptionCertPassword: PFX_PASSWORD,
    });
    if (verified.results.every((result) => result.Status === 'Succeeded')) tally.verified += 1;
    else tally.lose(`the real backup no longer verifies after the hostile input`);
  } catch (error) {
    tally.fail(`scenario stopped: ${errorMessage(error)}`);
  } finally {
    await cleanup.run();
  }
  return tally;
}
