/**
 * Another local user against the daemon's socket, and what the daemon's environment holds. The other
 * user is `nobody` (through runuser); the socket's fallback folder goes under a private 1777 test
 * folder (TMPDIR), so that nothing here touches the machine's own /tmp/azsbackup-<uid>.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { removeDir, startDaemon, tempDir, waitForIdle } from '../helpers/daemon.js';
import { createDeployment } from '../helpers/deployment.js';
import { cliMain } from '../helpers/pwsh.js';

const OTHER_USER = 'nobody';
const canRunAsOtherUser = process.getuid?.() === 0 && existsSync('/usr/sbin/runuser');

interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI with the test's TMPDIR and no XDG_RUNTIME_DIR, so the socket falls back to `<TMPDIR>/azsbackup-<uid>`. */
function cli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): CliRun {
  const result = spawnSync(process.execPath, [cliMain, ...args], {
    env,
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A state folder whose `<state>/run/daemon.sock` is too long for a socket path, with its token. */
function longStateDir(root: string): { stateDir: string; token: string } {
  const stateDir = path.join(root, 'state-'.padEnd(100, 'x'));
  mkdirSync(stateDir, { mode: 0o700 });
  const token = 'f'.repeat(64);
  writeFileSync(path.join(stateDir, 'token'), token, { mode: 0o600 });
  return { stateDir, token };
}

/** As the other user: creates `folder` with mode 0777, as one who wants the daemon's socket would. */
function squatFolder(folder: string): void {
  const script = `require('fs').mkdirSync(${JSON.stringify(folder)}); require('fs').chmodSync(${JSON.stringify(folder)}, 0o777);`;
  const made = spawnSync('runuser', ['-u', OTHER_USER, '--', process.execPath, '-e', script], {
    cwd: '/',
    encoding: 'utf8',
  });
  assert.equal(made.status, 0, made.stderr);
}

/** As the other user: listens on `socket` (mode 0777), printing in hex whatever a client sends. */
async function listenAsOtherUser(socket: string): Promise<{ child: ChildProcess; received: () => string }> {
  const script = `require('net').createServer((c) => c.on('data', (d) => console.log('DATA ' + d.toString('hex'))))
    .listen(${JSON.stringify(socket)}, () => { require('fs').chmodSync(${JSON.stringify(socket)}, 0o777); console.log('READY'); });`;
  const child = spawn('runuser', ['-u', OTHER_USER, '--', process.execPath, '-e', script], { cwd: '/' });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 20_000;
  while (!output.includes('READY')) {
    if (Date.now() > deadline) throw new Error(`the other user's listener did not start: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, received: () => output.replace('READY', '').trim() };
}

/** Waits until the daemon of `stateDir` has written its status file (it listens then). */
async function listening(stateDir: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!existsSync(path.join(stateDir, 'run', 'daemon.json'))) {
    if (Date.now() > deadline) throw new Error(`no daemon listened for ${stateDir}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe(
  'the socket against another local user',
  { skip: !canRunAsOtherUser && 'needs root and runuser' },
  () => {
    let root: string;
    let env: NodeJS.ProcessEnv;

    before(() => {
      root = tempDir('local-user');
      chmodSync(root, 0o755);
    });

    after(() => removeDir(root));

    // Each test has a TMPDIR of its own (mode 1777, as /tmp): the fallback folder is one per user.
    beforeEach(() => {
      const tmp = mkdtempSync(path.join(root, 'tmp-'));
      chmodSync(tmp, 0o1777);
      env = { ...process.env, TMPDIR: tmp };
      delete env.XDG_RUNTIME_DIR;
    });

    /** Where the code under test puts the socket for `stateDir` (asked while nothing listens). */
    function socketOf(stateDir: string): string {
      const status = JSON.parse(cli(['status', '--json', '--state-dir', stateDir], env).stdout);
      assert.equal(status.running, false);
      return status.socket;
    }

    test('a client refuses a socket folder another user created first, and sends the listener nothing', async (t) => {
      const { stateDir, token } = longStateDir(tempDir('squatted'));
      t.after(() => removeDir(path.dirname(stateDir)));
      const socket = socketOf(stateDir);
      const folder = path.dirname(socket);
      squatFolder(folder);
      const squatter = await listenAsOtherUser(socket);
      t.after(() => void squatter.child.kill());

      const status = cli(['status', '--json', '--state-dir', stateDir], env, 15_000);
      const start = cli(['start', '--json', '--state-dir', stateDir], env, 15_000);
      await new Promise((resolve) => setTimeout(resolve, 300));

      assert.equal(squatter.received(), '', 'the other user received nothing');
      assert.ok(!squatter.received().includes(Buffer.from(token).toString('hex')));
      for (const run of [status, start]) {
        assert.equal(run.status, 1, `the CLI fails (${run.stderr})`);
        assert.equal(JSON.parse(run.stdout.trim().split('\n').at(-1)!).error.reason, 'EndpointNotPrivate');
        assert.ok(run.stderr.includes(folder), `the message names the folder: ${run.stderr}`);
      }
      assert.equal(existsSync(path.join(stateDir, 'run', 'daemon.pid')), false, 'no daemon was started');
    });

    test('the daemon refuses to listen in a folder another user created, and leaves it as it was', async (t) => {
      const { stateDir } = longStateDir(tempDir('squatted-serve'));
      t.after(() => removeDir(path.dirname(stateDir)));
      const folder = path.dirname(socketOf(stateDir));
      squatFolder(folder);

      const serve = cli(['serve', '--state-dir', stateDir], env, 20_000);
      if (serve.status === null) cli(['stop', '--state-dir', stateDir], env);

      assert.equal(serve.status, 1, 'serve fails at once');
      assert.match(serve.stderr, /belongs to uid \d+, not to this user/);
      assert.equal(lstatSync(folder).mode & 0o7777, 0o777, 'the folder is not chmodded');
    });

    test('with no folder yet the daemon creates it 0700, listens 0600, and the CLI reaches it', (t) => {
      const { stateDir } = longStateDir(tempDir('fallback'));
      t.after(() => {
        cli(['stop', '--state-dir', stateDir], env);
        removeDir(path.dirname(stateDir));
      });
      const started = JSON.parse(cli(['start', '--json', '--state-dir', stateDir], env).stdout);
      const folder = lstatSync(path.dirname(started.socket));
      assert.ok(started.socket.startsWith(env.TMPDIR!), `the socket is under TMPDIR: ${started.socket}`);
      assert.equal(folder.mode & 0o7777, 0o700);
      assert.equal(folder.uid, process.getuid!());
      assert.equal(lstatSync(started.socket).mode & 0o777, 0o600);
      assert.equal(JSON.parse(cli(['status', '--json', '--state-dir', stateDir], env).stdout).running, true);
    });

    test('with XDG_RUNTIME_DIR set the socket goes there, and a folder others may enter is refused', (t) => {
      const { stateDir } = longStateDir(tempDir('runtime-dir'));
      const runtime = path.join(path.dirname(stateDir), 'runtime');
      mkdirSync(runtime, { mode: 0o700 });
      const runtimeEnv = { ...env, XDG_RUNTIME_DIR: runtime };
      t.after(() => {
        cli(['stop', '--state-dir', stateDir], runtimeEnv);
        removeDir(path.dirname(stateDir));
      });
      const started = JSON.parse(cli(['start', '--json', '--state-dir', stateDir], runtimeEnv).stdout);
      assert.equal(path.dirname(started.socket), runtime);
      cli(['stop', '--state-dir', stateDir], runtimeEnv);

      chmodSync(runtime, 0o755);
      const refused = cli(['start', '--json', '--state-dir', stateDir], runtimeEnv);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /has mode 0755, which lets other users in/);
    });
  },
);

describe("the daemon's environment", () => {
  const SECRET = 'Pfx-Secret-In-The-Callers-Environment-1!';
  const CLOUD_SECRET = 'cloud-credential-of-the-caller';

  /** Registers a PowerShell role that writes its $env: to `file`, runs a backup, returns what it wrote. */
  async function roleScriptEnvironment(
    daemon: ReturnType<typeof startDaemon>,
    file: string,
  ): Promise<string> {
    await daemon.call('role.register', {
      Name: 'EnvProbe',
      Provider: 'PowerShell',
      BackupScript: `Get-ChildItem Env: | ForEach-Object { "$($_.Name)=$($_.Value)" } | Set-Content -LiteralPath '${file}'; Set-Content -LiteralPath (Join-Path $StagingPath 'probe.txt') -Value probe`,
      RestoreScript: 'Write-Output restored',
    });
    const backup = await daemon.call('backup.start', { Wait: true });
    assert.equal(backup.Status, 'Succeeded');
    return readFileSync(file, 'utf8');
  }

  test('a daemon the CLI starts keeps none of the caller’s secrets, nor do its role scripts', async (t) => {
    const saved = { ...process.env };
    Object.assign(process.env, { AZSBACKUP_PFX_PASSWORD: SECRET, CLOUD_API_KEY: CLOUD_SECRET });
    let daemon: ReturnType<typeof startDaemon>;
    try {
      daemon = startDaemon();
    } finally {
      process.env = saved;
    }
    const deployment = await createDeployment(daemon);
    t.after(() => {
      daemon.stop();
      removeDir(daemon.stateDir);
      removeDir(deployment.root);
    });
    const environ = readFileSync(`/proc/${daemon.pid}/environ`, 'utf8');
    assert.ok(!environ.includes(SECRET), 'the .pfx password is not in the daemon’s environment');
    assert.ok(!environ.includes(CLOUD_SECRET), 'nor another variable of the caller');
    assert.match(environ, /(^|\0)PATH=/, 'PATH is kept');
    const scriptEnv = await roleScriptEnvironment(daemon, path.join(deployment.root, 'env.txt'));
    assert.ok(!scriptEnv.includes(SECRET), 'a role script does not see the .pfx password');
    assert.ok(!scriptEnv.includes(CLOUD_SECRET));
    assert.match(scriptEnv, /^PATH=/m);
    await waitForIdle(daemon);
  });

  test('a daemon started by hand with a secret in its environment does not pass it to role scripts', async (t) => {
    const stateDir = tempDir('by-hand');
    const child = spawn(process.execPath, [cliMain, 'serve', '--state-dir', stateDir], {
      env: { ...process.env, AZSBACKUP_PFX_PASSWORD: SECRET, CLOUD_API_KEY: CLOUD_SECRET },
      stdio: 'ignore',
    });
    t.after(() => {
      child.kill();
      removeDir(stateDir);
    });
    await listening(stateDir);
    const daemon = startDaemon({ stateDir });
    assert.equal(daemon.pid, child.pid, 'the CLI found the daemon started by hand');
    const deployment = await createDeployment(daemon);
    t.after(() => removeDir(deployment.root));
    const scriptEnv = await roleScriptEnvironment(daemon, path.join(deployment.root, 'env.txt'));
    assert.ok(!scriptEnv.includes(SECRET), 'a role script does not see the .pfx password');
    assert.ok(!scriptEnv.includes(CLOUD_SECRET));
  });
});
