/** The azsbackup command line as scripts use it: exit codes, --json output, the service unit. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { removeDir, startDaemon, tempDir } from '../helpers/daemon.js';
import { createDeployment } from '../helpers/deployment.js';
import { DAEMON_ENVIRONMENT, DAEMON_NODE_ARGUMENTS } from '../../src/cli/daemonProcess.js';
import { cliMain } from '../helpers/pwsh.js';

function cli(...args: string[]) {
  return spawnSync(process.execPath, [cliMain, ...args], { encoding: 'utf8' });
}

test('status exits 3 when no daemon runs and 0 when one does; stop stops it', () => {
  const stateDir = tempDir('cli-state');
  try {
    const before = cli('status', '--json', '--state-dir', stateDir);
    assert.equal(before.status, 3);
    assert.equal(JSON.parse(before.stdout).running, false);
    const daemon = startDaemon({ stateDir });
    const running = cli('status', '--json', '--state-dir', stateDir);
    assert.equal(running.status, 0);
    assert.equal(JSON.parse(running.stdout).pid, daemon.pid);
    assert.equal(
      cli('serve', '--state-dir', stateDir).status,
      1,
      'a second daemon for the same state folder is refused',
    );
    assert.deepEqual(JSON.parse(cli('stop', '--json', '--state-dir', stateDir).stdout), { stopped: true });
    assert.equal(cli('status', '--state-dir', stateDir).status, 3);
  } finally {
    removeDir(stateDir);
  }
});

test('a restarted daemon appends to daemon.log: what the daemon before it logged stays', () => {
  const stateDir = tempDir('cli-log');
  try {
    for (let run = 0; run < 2; run += 1) {
      startDaemon({ stateDir });
      assert.equal(cli('stop', '--state-dir', stateDir).status, 0);
    }
    const logged = readFileSync(path.join(stateDir, 'logs', 'daemon.log'), 'utf8');
    assert.equal(logged.match(/"message":"daemon started"/g)?.length, 2, logged);
  } finally {
    removeDir(stateDir);
  }
});

test('start runs the daemon with DAEMON_NODE_ARGUMENTS, and DAEMON_ENVIRONMENT added to the caller environment, the caller winning', () => {
  for (const caller of [{}, { MALLOC_ARENA_MAX: '4' }] as Array<Record<string, string>>) {
    const stateDir = tempDir('cli-env');
    try {
      const env = { ...process.env, MALLOC_ARENA_MAX: undefined, NODE_OPTIONS: undefined, ...caller };
      const started = spawnSync(process.execPath, [cliMain, 'start', '--json', '--state-dir', stateDir], {
        encoding: 'utf8',
        env,
      });
      assert.equal(started.status, 0, started.stderr);
      const { pid } = JSON.parse(cli('status', '--json', '--state-dir', stateDir).stdout) as { pid: number };
      const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      assert.deepEqual(commandLine.slice(1, 1 + DAEMON_NODE_ARGUMENTS.length), DAEMON_NODE_ARGUMENTS);
      const environment = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      for (const [name, value] of Object.entries(DAEMON_ENVIRONMENT)) {
        const expected = `${name}=${caller[name] ?? value}`;
        assert.ok(environment.includes(expected), `${expected} in ${environment.join(' ')}`);
      }
    } finally {
      cli('stop', '--state-dir', stateDir);
      removeDir(stateDir);
    }
  }
});

test('usage errors exit 2; failures exit 1 with a JSON error', () => {
  assert.equal(cli('no-such-command').status, 2);
  assert.equal(cli('extract', '--backup', '/x').status, 2, 'missing --pfx and --out');
  const out = tempDir('cli-out');
  try {
    const failed = spawnSync(
      process.execPath,
      [cliMain, 'extract', '--backup', '/nonexistent', '--pfx', '/nonexistent.pfx', '--out', out, '--json'],
      {
        encoding: 'utf8',
        env: { ...process.env, AZSBACKUP_PFX_PASSWORD: 'x' },
      },
    );
    assert.equal(failed.status, 1);
    assert.equal(JSON.parse(failed.stdout).error.reason, 'BackupNotFound');
    assert.match(failed.stderr, /BackupInfo\.json/);
  } finally {
    removeDir(out);
  }
});

test('start refuses a shared 1777 state folder, naming --state-dir, and leaves its mode alone', () => {
  const parent = tempDir('cli-shared');
  const shared = path.join(parent, 'shared');
  try {
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const started = cli('start', '--json', '--state-dir', shared);
    assert.equal(started.status, 1, started.stderr);
    assert.equal(JSON.parse(started.stdout).error.reason, 'StateDirUnsafe');
    assert.match(started.stderr, /--state-dir.*AZSBACKUP_HOME.*mode 1777/);
    assert.equal(statSync(shared).mode & 0o7777, 0o1777);
    assert.deepEqual(readdirSync(shared), [], 'nothing was written into it');
  } finally {
    removeDir(parent);
  }
});

test('jobs --json lists the job history with per-role outcomes', async () => {
  const daemon = startDaemon();
  const deployment = await createDeployment(daemon);
  try {
    await daemon.call('role.unregister', { Name: 'ECE' });
    const backup = await daemon.call('backup.start', { Wait: true });
    const listed = cli('jobs', '--json', '--state-dir', daemon.stateDir);
    assert.equal(listed.status, 0, listed.stderr);
    const [job] = JSON.parse(listed.stdout).jobs;
    assert.equal(job.BackupId, backup.BackupId);
    assert.equal(job.Kind, 'Backup');
    assert.equal(job.Outcome, 'Succeeded');
    assert.deepEqual(job.Roles.map((role: { RoleName: string }) => role.RoleName).sort(), ['CA', 'WAS']);
    await daemon.call('store.prune', { DryRun: false });
    const kinds = (...filter: string[]) =>
      (
        JSON.parse(cli('jobs', '--json', '--state-dir', daemon.stateDir, ...filter).stdout) as {
          jobs: { Kind: string }[];
        }
      ).jobs.map((listedJob) => listedJob.Kind);
    assert.deepEqual(kinds(), ['Prune', 'Backup']);
    assert.deepEqual(kinds('--kind', 'Backup'), ['Backup']);
    assert.deepEqual(kinds('--kind', 'Backup', 'Prune', '--outcome', 'Succeeded'), ['Prune', 'Backup']);
    assert.deepEqual(kinds('--outcome', 'Failed'), []);
    const wrong = cli('jobs', '--outcome', 'Lost', '--state-dir', daemon.stateDir);
    assert.equal(wrong.status, 2);
    assert.match(wrong.stderr, /outcome.*Lost/);
  } finally {
    daemon.stop();
    [daemon.stateDir, deployment.root].forEach(removeDir);
  }
});

test('service install writes a unit for the state folder and silences the keep-alive warning; uninstall removes it', async () => {
  const daemon = startDaemon();
  const deployment = await createDeployment(daemon);
  const units = tempDir('units');
  try {
    const warnings = async () => (await daemon.call('config.get', {})).warnings.join(' ');
    assert.match(await warnings(), /azsbackup service install/);
    // The engine's settings of the installing shell go into the unit; its state folder does not.
    const installed = spawnSync(
      process.execPath,
      [cliMain, 'service', 'install', '--json', '--state-dir', daemon.stateDir, '--unit-dir', units],
      { encoding: 'utf8', env: { ...process.env, AZSBACKUP_FORMAT: '4', AZSBACKUP_HOME: '/elsewhere' } },
    );
    assert.equal(installed.status, 0, installed.stderr);
    const { unit } = JSON.parse(installed.stdout) as { unit: string };
    assert.equal(path.dirname(unit), units);
    const unitText = readFileSync(unit, 'utf8');
    // Every value quoted (test/unit/serviceUnit.test.ts: what a quoted value may hold).
    const quoted = (words: string[]) => words.map((word) => `"${word}"`).join(' ');
    assert.ok(unitText.includes(` ${quoted(['serve', '--state-dir', daemon.stateDir, '--journal'])}\n`));
    assert.ok(
      unitText.includes(`ExecStart=${quoted([process.execPath, ...DAEMON_NODE_ARGUMENTS])} `),
      'the daemon node arguments in the unit',
    );
    for (const [name, value] of Object.entries(DAEMON_ENVIRONMENT))
      assert.ok(unitText.includes(`Environment="${name}=${value}"\n`), `${name} in the unit`);
    assert.ok(unitText.includes('Environment="AZSBACKUP_FORMAT=4"\n'), "the installer's format in the unit");
    assert.deepEqual(unitText.match(/AZSBACKUP_HOME=[^"]*/g), [`AZSBACKUP_HOME=${daemon.stateDir}`]);
    assert.doesNotMatch(await warnings(), /azsbackup service install/);
    assert.equal(cli('service', 'uninstall', '--state-dir', daemon.stateDir).status, 0);
    assert.equal(existsSync(unit), false);
    assert.match(await warnings(), /azsbackup service install/);
  } finally {
    daemon.stop();
    [daemon.stateDir, deployment.root, units].forEach(removeDir);
  }
});
