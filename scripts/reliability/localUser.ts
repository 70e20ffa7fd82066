/**
 * Scenario 8, local user (issue 14): another account on the machine, without the token or the state
 * folder, squats the fallback socket folder, floods or idles on a connection without the token, and
 * plants a setuid file in a Directory role; the operator, root, meets hostile input of the same
 * kind: certificate paths that are devices or FIFOs, a .pfx password left in the environment that
 * starts the daemon, role paths that hold the system, the store or the state folder, a state folder
 * that is a shared 1777 folder, a role path that is a symlink, and a source file root cannot read.
 * Every attack that works counts as leaked; the defects of the last kind (a role path replaced, a
 * wrong status, other roles failed by one file) count the same way.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { defaultEndpoint } from '../../src/util/platform.js';
import { removeDir, startDaemon, tempDir, type TestDaemon } from '../../test/helpers/daemon.js';
import { unmount } from '../../test/helpers/mounts.js';
import { quote } from '../../test/helpers/pwshSession.js';
import { addUser, attack, Operator } from './attacks.js';
import {
  Cleanup,
  configureLocalStore,
  errorMessage,
  residentMiB,
  sleep,
  Tally,
  treeDigest,
  verifyCommitted,
  within,
  type SuiteOptions,
} from './common.js';
import { squatFallbackSocket } from './socketSquat.js';

/** The variable `azsbackup extract` reads the .pfx password from; an operator may leave it set. */
const PFX_PASSWORD_VARIABLE = 'AZSBACKUP_PFX_PASSWORD';
const LEFT_IN_THE_ENVIRONMENT = 'Left-In-The-Environment-9!';
const MEMORY_BOUND_MIB = 100;
const IDLE_BOUND_MS = 30_000;
const CERTIFICATE_ANSWER_MS = 10_000;
const FLOOD = { requests: 400, paddingBytes: 900 * 1024 };

type Attack = [name: string, run: () => Promise<string | null>];

interface Context {
  daemon: TestDaemon;
  operator: Operator;
  user: { name: string; uid: number; gid: number };
  root: string;
  store: string;
  pfxPath: string;
  cerPath: string;
  backupId: string;
  options: SuiteOptions;
}

/** The roles this scenario registers, in folders the other user can reach. */
interface RoleFolders {
  shared: string;
  linked: string;
  realData: string;
  envWitness: string;
}

/**
 * The daemon, started by a process whose environment holds the .pfx password (the operator set it
 * for `azsbackup extract`). Set only around the synchronous start, so that nothing else inherits it.
 */
function startDaemonWithPasswordInEnvironment(): TestDaemon {
  process.env[PFX_PASSWORD_VARIABLE] = LEFT_IN_THE_ENVIRONMENT;
  try {
    return startDaemon();
  } finally {
    delete process.env[PFX_PASSWORD_VARIABLE];
  }
}

async function registerRoles(daemon: TestDaemon, root: string, user: Context['user']): Promise<RoleFolders> {
  const folders: RoleFolders = {
    shared: path.join(root, 'shared'),
    linked: path.join(root, 'linked'),
    realData: path.join(root, 'real-data'),
    envWitness: path.join(root, 'environment-seen.txt'),
  };
  mkdirSync(folders.shared);
  chmodSync(folders.shared, 0o777); // the other user may write into this role's folder
  mkdirSync(folders.realData);
  writeFileSync(path.join(folders.realData, 'settings.json'), '{"nodes": 3}\n');
  symlinkSync(folders.realData, folders.linked);
  const asUser = `cp /bin/true suid-tool && chmod 4755 suid-tool && cp /bin/true sgid-tool && chmod 2755 sgid-tool`;
  const planted = spawnSync('runuser', ['-u', user.name, '--', 'sh', '-c', asUser], {
    cwd: folders.shared,
    encoding: 'utf8',
  });
  if (planted.status !== 0) throw new Error(`the other user could not write its files: ${planted.stderr}`);
  await daemon.call('role.register', { Name: 'Shared', Provider: 'Directory', Path: folders.shared });
  await daemon.call('role.register', { Name: 'Linked', Provider: 'Directory', Path: folders.linked });
  await daemon.call('role.register', {
    Name: 'EnvProbe',
    Provider: 'PowerShell',
    BackupScript: `Set-Content -LiteralPath ${quote(folders.envWitness)} -Value ('[' + $env:${PFX_PASSWORD_VARIABLE} + ']'); Set-Content -LiteralPath (Join-Path $StagingPath 'probe.txt') -Value probe`,
    RestoreScript: 'Get-ChildItem -LiteralPath $StagingPath | Out-Null',
  });
  return folders;
}

async function squat(context: Context): Promise<string | null> {
  const result = await squatFallbackSocket(context.user.name);
  context.options.log(
    `local user: the squatter of ${path.dirname(result.endpoint)} received ${result.bytes} bytes`,
  );
  return result.received.length ? `${result.received.join(', ')} reached the squatter` : null;
}

/** A connection that sends nothing; whether it is still open when asked. */
function idleConnection(daemon: TestDaemon): { openedAt: number; isOpen(): boolean } {
  let open = true;
  const socket = net.createConnection(defaultEndpoint(daemon.stateDir));
  socket.on('error', () => undefined);
  socket.on('close', () => (open = false));
  socket.resume(); // reads what the daemon says, so its closing is seen ('close' waits for the data to be read)
  return { openedAt: Date.now(), isOpen: () => open };
}

async function idleHeldOpen(idle: ReturnType<typeof idleConnection>): Promise<string | null> {
  await sleep(Math.max(0, idle.openedAt + IDLE_BOUND_MS + 1_000 - Date.now()));
  return idle.isOpen()
    ? `an unauthenticated idle connection is still open after ${IDLE_BOUND_MS / 1000} s`
    : null;
}

/**
 * The daemon's peak VmRSS growth (MiB) while `run` runs. Past `killAbove` MiB the daemon is killed:
 * memory is shared with everything else on this machine, and the attack has succeeded anyway.
 */
async function peakGrowth<T>(
  daemon: TestDaemon,
  run: () => Promise<T>,
  killAbove = Infinity,
): Promise<{ value: T; growthMiB: number }> {
  const pid = daemon.pid;
  const before = residentMiB(pid);
  let peak = before;
  const sampler = setInterval(() => {
    try {
      const now = residentMiB(pid); // NaN once the killed daemon is a zombie
      if (!Number.isNaN(now)) peak = Math.max(peak, now);
      if (peak - before > killAbove) process.kill(pid, 'SIGKILL');
    } catch {
      // the daemon has gone
    }
  }, 50);
  try {
    return { value: await run(), growthMiB: peak - before };
  } finally {
    clearInterval(sampler);
  }
}

/** A wrong token, then requests of almost 1 MiB each whose replies are never read. */
async function floodWithoutToken(context: Context): Promise<string | null> {
  const socket = net.createConnection(defaultEndpoint(context.daemon.stateDir));
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.pause();
  let closed = false;
  socket.on('close', () => (closed = true));
  const line = (id: number, method: string, params: object) =>
    `${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`;
  const padding = 'x'.repeat(FLOOD.paddingBytes);
  let sent = 0;
  const { growthMiB } = await peakGrowth(context.daemon, async () => {
    socket.write(line(0, 'session.authenticate', { token: 'f'.repeat(64) }));
    for (; sent < FLOOD.requests && !closed; sent += 1) {
      if (socket.write(line(sent + 1, 'config.get', { padding }))) continue;
      const drained = await Promise.race([
        once(socket, 'drain').then(
          () => true,
          () => false, // EPIPE, ECONNRESET: the daemon has closed the connection
        ),
        sleep(5_000).then(() => false),
      ]);
      if (!drained) break; // the daemon stopped reading
    }
    await sleep(2_000);
    // A paused socket never sees the daemon's end of the connection: all 400 requests may be written
    // before the daemon closes (it discards what arrives for a second first), so read again and wait.
    socket.resume();
    if (!closed) await Promise.race([once(socket, 'close'), sleep(5_000)]);
  });
  context.options.log(
    `local user: after a wrong token ${sent} requests of ${FLOOD.paddingBytes >> 10} KiB written; connection ${closed ? 'closed' : 'open'}, VmRSS +${growthMiB.toFixed(0)} MiB`,
  );
  const effects: string[] = [];
  if (!closed) effects.push('the connection stays open after the refused token');
  if (growthMiB > MEMORY_BOUND_MIB) effects.push(`the daemon's VmRSS grew by ${growthMiB.toFixed(0)} MiB`);
  socket.destroy();
  return effects.length ? effects.join('; ') : null;
}

/** Lets a daemon blocked on a FIFO go on: opens its writing end and closes it (end of file). */
function releaseFifo(fifo: string): void {
  try {
    closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // nobody reads it
  }
}

async function killAndRestart(daemon: TestDaemon): Promise<void> {
  try {
    process.kill(daemon.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await sleep(500);
  daemon.restart();
}

/** A certificate parameter naming a device or a FIFO: a clear error within 10 s, memory bounded. */
async function certificatePath(
  context: Context,
  parameter: 'EncryptionCertPath' | 'DecryptionCertPath',
  file: string,
): Promise<string | null> {
  const { daemon, operator } = context;
  const command =
    parameter === 'EncryptionCertPath'
      ? `Set-AzsBackupConfiguration -EncryptionCertPath ${quote(file)}`
      : `Test-AzsBackup -Name ${quote(context.backupId)} -DecryptionCertPath ${quote(file)} -DecryptionCertPassword (ConvertTo-SecureString $env:AZS_PFX_PASSWORD -AsPlainText -Force)`;
  const started = Date.now();
  const { value: outcome, growthMiB } = await peakGrowth(
    daemon,
    () => operator.attempt(command, CERTIFICATE_ANSWER_MS).catch((error: unknown) => error as Error),
    MEMORY_BOUND_MIB,
  );
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  releaseFifo(file);
  context.options.log(
    `local user: -${parameter} ${file}: ${outcome instanceof Error ? outcome.message : outcome.ok ? 'accepted' : `${outcome.id}: ${outcome.message}`} (${seconds} s, VmRSS +${growthMiB.toFixed(0)} MiB)`,
  );
  const effects: string[] = [];
  if (growthMiB > MEMORY_BOUND_MIB)
    effects.push(`the daemon's VmRSS grew by ${growthMiB.toFixed(0)} MiB (then it was killed)`);
  if (outcome instanceof Error) effects.push(`no answer within ${CERTIFICATE_ANSWER_MS / 1000} s`);
  else if (outcome.ok) effects.push(`accepted in ${seconds} s`);
  else if (!outcome.id.startsWith('AzsBackup.') || /InternalError/.test(outcome.id))
    effects.push(`failed without a clear error in ${seconds} s: ${outcome.id}: ${outcome.message}`);
  const alive = await within(daemon.call('daemon.status', {}), 10_000, 'daemon.status').catch(() => null);
  if (!alive) await killAndRestart(daemon);
  await daemon.call('config.set', { EncryptionCertPath: context.cerPath });
  return effects.length ? effects.join('; ') : null;
}

async function passwordInEnvironment(context: Context, folders: RoleFolders): Promise<string | null> {
  const effects: string[] = [];
  if (
    existsSync(folders.envWitness) &&
    readFileSync(folders.envWitness, 'utf8').includes(LEFT_IN_THE_ENVIRONMENT)
  )
    effects.push(`a PowerShell role's script sees $env:${PFX_PASSWORD_VARIABLE}`);
  if (readFileSync(`/proc/${context.daemon.pid}/environ`).includes(LEFT_IN_THE_ENVIRONMENT))
    effects.push(`/proc/${context.daemon.pid}/environ holds it`);
  return effects.length ? effects.join('; ') : null;
}

/** After a restore of the Shared role: a setuid/setgid file that its owner could not have made. */
async function privilegedFiles(
  context: Context,
  folders: RoleFolders,
): Promise<Record<'suid' | 'sgid', string | null>> {
  for (const tool of ['suid-tool', 'sgid-tool']) spawnSync('rm', ['-f', path.join(folders.shared, tool)]);
  const restored = await context.operator.restore(context.backupId, 'Shared');
  if (!restored.ok) return { suid: null, sgid: null };
  const describe = (file: string) => {
    if (!existsSync(file)) return null;
    const stat = statSync(file);
    return { mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid };
  };
  const suid = describe(path.join(folders.shared, 'suid-tool'));
  const sgid = describe(path.join(folders.shared, 'sgid-tool'));
  return {
    suid:
      suid && suid.mode & 0o4000 && suid.uid !== context.user.uid
        ? `the restored file is setuid (mode ${suid.mode.toString(8)}) and owned by uid ${suid.uid}, not by its owner ${context.user.uid}`
        : null,
    sgid:
      sgid && sgid.mode & 0o2000 && sgid.gid !== context.user.gid
        ? `the restored file is setgid (mode ${sgid.mode.toString(8)}) with group ${sgid.gid}, not its owner's ${context.user.gid}`
        : null,
  };
}

async function symlinkedRolePath(
  context: Context,
  folders: RoleFolders,
  backedUp: string,
): Promise<string | null> {
  writeFileSync(path.join(folders.realData, 'written-after-the-backup.txt'), 'newer\n');
  const restored = await context.operator.restore(context.backupId, 'Linked');
  if (!lstatSync(folders.linked).isSymbolicLink())
    return 'the role path, a symlink, was replaced by a plain folder';
  if (restored.ok && (await treeDigest(folders.realData)) !== backedUp)
    return "the restore succeeded but the data at the link's target was not restored";
  return null;
}

async function forbiddenRolePath(context: Context, rolePath: string): Promise<string | null> {
  const outcome = await context.operator.attempt(
    `Register-AzsInfrastructureRole -Name Forbidden -Provider Directory -Path ${quote(rolePath)}`,
  );
  await context.daemon.call('role.unregister', { Name: 'Forbidden' }).catch(() => undefined);
  return outcome.ok ? `the daemon accepted -Path ${rolePath}` : null;
}

async function stickyStateFolder(): Promise<string | null> {
  const folder = tempDir('rel-sticky');
  chmodSync(folder, 0o1777);
  try {
    const other = (() => {
      try {
        return startDaemon({ stateDir: folder });
      } catch {
        return null; // refusing such a folder is a right answer
      }
    })();
    other?.stop();
    const mode = statSync(folder).mode & 0o7777;
    return mode === 0o1777 ? null : `the daemon changed its mode from 1777 to ${mode.toString(8)}`;
  } finally {
    removeDir(folder);
  }
}

/** One source file that root cannot read (a write-only /proc/sys file bind-mounted onto it). */
async function unreadableSourceFile(context: Context): Promise<string | null> {
  const folder = path.join(context.root, 'unreadable');
  const file = path.join(folder, 'settings.cfg');
  mkdirSync(folder);
  writeFileSync(file, '');
  execFileSync('mount', ['--bind', '/proc/sys/vm/drop_caches', file]);
  try {
    await context.daemon.call('role.register', { Name: 'Unreadable', Provider: 'Directory', Path: folder });
    const { alerts: before } = await context.daemon.call('alert.list', {});
    const backup = await context.daemon.call('backup.start', { Wait: true }).catch((error: Error) => error);
    const {
      jobs: [job],
    } = await context.daemon.call('job.list', { Top: 1 });
    const { alerts } = await context.daemon.call('alert.list', {});
    const effects: string[] = [];
    const others = (job?.Roles ?? []).filter((role) => role.RoleName !== 'Unreadable');
    const failed = others.filter((role) => role.Status !== 'Succeeded');
    if (failed.length) effects.push(`other roles failed: ${failed.map((role) => role.RoleName).join(', ')}`);
    const running = (job?.Roles ?? []).filter((role) => role.Status === 'Running');
    if (running.length)
      effects.push(`roles left Running: ${running.map((role) => role.RoleName).join(', ')}`);
    const raised = alerts.filter(
      (alert) =>
        alert.State === 'Active' &&
        /external store/.test(alert.Title) &&
        !before.some((old) => old.AlertId === alert.AlertId),
    );
    if (raised.length) effects.push(`a store alert was raised: ${raised[0]!.Title}`);
    context.options.log(
      `local user: backup with an unreadable file: ${backup instanceof Error ? backup.message : backup.Status}; ` +
        `roles ${(job?.Roles ?? []).map((role) => `${role.RoleName}=${role.Status}`).join(', ')}`,
    );
    return effects.length ? effects.join('; ') : null;
  } finally {
    await context.daemon.call('role.unregister', { Name: 'Unreadable' }).catch(() => undefined);
    unmount(file);
  }
}

function forbiddenPaths(context: Context): string[] {
  const state = context.daemon.stateDir;
  return [
    '/',
    '/proc',
    '/proc/self',
    context.store,
    path.join(context.store, 'MASBackup'),
    path.dirname(context.store),
    state,
    path.join(state, 'logs'),
    path.dirname(state),
  ];
}

export async function localUser(options: SuiteOptions): Promise<Tally> {
  const tally = new Tally('8. local user');
  const cleanup = new Cleanup();
  try {
    const user = addUser(cleanup);
    const root = tempDir('rel-local');
    cleanup.add(() => removeDir(root));
    chmodSync(root, 0o755); // the other user reaches the Shared role's folder
    const daemon = startDaemonWithPasswordInEnvironment();
    cleanup.add(() => removeDir(daemon.stateDir));
    cleanup.add(() => daemon.stop());
    const { store, cerPath, pfxPath } = await configureLocalStore(daemon, root);
    const folders = await registerRoles(daemon, root, user);
    const linkedData = await treeDigest(folders.realData);
    const backup = await daemon.call('backup.start', { Wait: true });
    if (!tally.check(backup.Status === 'Succeeded', `the backup ended ${backup.Status}`))
      throw new Error('no backup to attack');
    tally.committed += 1;
    const operator = await Operator.start(daemon.stateDir, pfxPath);
    cleanup.add(() => operator.dispose());
    const context: Context = {
      daemon,
      operator,
      user,
      root,
      store,
      pfxPath,
      cerPath,
      backupId: backup.BackupId,
      options,
    };
    const fifo = path.join(root, 'certificate.fifo');
    execFileSync('mkfifo', [fifo]);
    let privileged: ReturnType<typeof privilegedFiles> | undefined;
    const restoredPrivileged = async (kind: 'suid' | 'sgid') =>
      (await (privileged ??= privilegedFiles(context, folders)))[kind];
    const attacks: Attack[] = [
      ['the fallback socket folder squatted before the daemon starts', () => squat(context)],
      ['a wrong token, then 400 requests whose replies are never read', () => floodWithoutToken(context)],
      [
        `${PFX_PASSWORD_VARIABLE} in the environment that starts the daemon`,
        () => passwordInEnvironment(context, folders),
      ],
      [
        'a setuid file of the other user in a Directory role, backed up and restored',
        () => restoredPrivileged('suid'),
      ],
      [
        'a setgid file of the other user in a Directory role, backed up and restored',
        () => restoredPrivileged('sgid'),
      ],
      [
        'a role path that is a symlink to the data, backed up and restored',
        () => symlinkedRolePath(context, folders, linkedData),
      ],
      ...(['EncryptionCertPath', 'DecryptionCertPath'] as const).flatMap((parameter): Attack[] =>
        ['/dev/zero', fifo].map((file): Attack => [
          `-${parameter} ${file === fifo ? 'a FIFO' : file}`,
          () => certificatePath(context, parameter, file),
        ]),
      ),
    ];
    for (const [name, run] of attacks) await attack(tally, name, run);
    // Opened only now: a certificate attack above may have had to restart the daemon.
    const idle = idleConnection(daemon);
    const later: Attack[] = [
      ...forbiddenPaths(context).map((rolePath): Attack => [
        `Register-AzsInfrastructureRole -Path ${rolePath}`,
        () => forbiddenRolePath(context, rolePath),
      ]),
      ['--state-dir naming an existing 1777 folder', stickyStateFolder],
      ['one source file root cannot read, in one Directory role', () => unreadableSourceFile(context)],
      [`an unauthenticated connection held open without a word`, () => idleHeldOpen(idle)],
    ];
    for (const [name, run] of later) await attack(tally, name, run);
    options.log(`local user: ${tally.injected} attacks tried, ${tally.leaked} succeeded`);
    const problem = await verifyCommitted(
      { daemon, pfxPath, storeFolder: store, roles: [] },
      { backupId: backup.BackupId, created: backup.CreatedDateTime, ready: true, digests: {} },
    );
    if (problem) tally.lose(problem);
    else tally.verified += 1;
  } catch (error) {
    tally.fail(`scenario stopped: ${errorMessage(error)}`);
  } finally {
    await cleanup.run();
  }
  return tally;
}
