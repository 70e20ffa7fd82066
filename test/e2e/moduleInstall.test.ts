/**
 * `azsbackup module install|uninstall` with real pwsh: after install, a new session imports the
 * module by name (no path) and its cmdlets reach the engine through the link; install is idempotent;
 * another copy of the module in the way is refused, never replaced; uninstall takes the link away.
 * A private XDG_DATA_HOME stands in for the user's data folder, where pwsh looks for user modules.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { removeDir, tempDir } from '../helpers/daemon.js';
import { cliMain, findPwsh, pwshEnv, repoRoot } from '../helpers/pwsh.js';

interface ModuleLinks {
  links: Array<{ link: string; target: string; action: string }>;
}

function userEnvironment(dataHome: string, stateDir: string): Record<string, string> {
  // Without PSModulePath pwsh builds it afresh, user folder first, as in a new login session.
  const env = pwshEnv({ XDG_DATA_HOME: dataHome, AZSBACKUP_HOME: stateDir });
  delete env.PSModulePath;
  return env;
}

function moduleCommand(env: Record<string, string>, action: string) {
  return spawnSync(process.execPath, [cliMain, 'module', action, '--json'], { encoding: 'utf8', env });
}

function runModule(env: Record<string, string>, action: string): ModuleLinks {
  const result = moduleCommand(env, action);
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as ModuleLinks;
}

function pwsh(env: Record<string, string>, command: string) {
  return spawnSync(findPwsh(), ['-NoProfile', '-NonInteractive', '-Command', command], {
    encoding: 'utf8',
    env,
  });
}

function withUser(body: (env: Record<string, string>, moduleFolder: string) => void): void {
  const dataHome = tempDir('module-data');
  const stateDir = tempDir('module-state');
  const env = userEnvironment(dataHome, stateDir);
  try {
    body(env, path.join(dataHome, 'powershell', 'Modules', 'AzureStackBackup'));
  } finally {
    spawnSync(process.execPath, [cliMain, 'stop', '--state-dir', stateDir]);
    removeDir(dataHome);
    removeDir(stateDir);
  }
}

test('module install lets a new pwsh session import AzureStackBackup by name and reach the engine; a second install changes nothing', () => {
  withUser((env, moduleFolder) => {
    const before = pwsh(env, 'Import-Module AzureStackBackup -ErrorAction Stop');
    assert.notEqual(before.status, 0, 'not importable by name before install');

    const first = runModule(env, 'install');
    assert.deepEqual(first.links, [{ link: moduleFolder, target: repoRoot, action: 'linked' }]);
    const second = runModule(env, 'install');
    assert.deepEqual(second.links, [{ link: moduleFolder, target: repoRoot, action: 'unchanged' }]);
    assert.equal(readlinkSync(moduleFolder), repoRoot);

    const session = pwsh(
      env,
      'Import-Module AzureStackBackup -ErrorAction Stop; (Get-Module AzureStackBackup).ModuleBase; ' +
        '(Get-AzsBackupConfiguration -ErrorAction Stop).BackupFrequencyInHours',
    );
    assert.equal(session.status, 0, session.stderr);
    const lines = session.stdout.trim().split(/\r?\n/);
    assert.equal(lines[0], moduleFolder, 'imported from the user module folder, by name');
    assert.match(lines.at(-1) ?? '', /^\d+$/, 'a cmdlet answered through the daemon it started');
  });
});

test('module install relinks a link to another checkout, and refuses a folder of its own, leaving it as it is', () => {
  withUser((env, moduleFolder) => {
    mkdirSync(path.dirname(moduleFolder), { recursive: true });
    const otherCheckout = tempDir('module-other');
    try {
      symlinkSync(otherCheckout, moduleFolder);
      assert.equal(runModule(env, 'install').links[0]?.action, 'relinked');
      assert.equal(readlinkSync(moduleFolder), repoRoot);
    } finally {
      removeDir(otherCheckout);
    }

    runModule(env, 'uninstall');
    mkdirSync(moduleFolder);
    writeFileSync(path.join(moduleFolder, 'AzureStackBackup.psd1'), '@{ ModuleVersion = "9.9.9" }');
    const refused = moduleCommand(env, 'install');
    assert.equal(refused.status, 1);
    assert.equal(JSON.parse(refused.stdout).error.reason, 'ModuleFolderInUse');
    assert.match(refused.stderr, /another copy of the AzureStackBackup module is installed there/);
    assert.equal(lstatSync(moduleFolder).isDirectory(), true);
    assert.equal(
      readFileSync(path.join(moduleFolder, 'AzureStackBackup.psd1'), 'utf8'),
      '@{ ModuleVersion = "9.9.9" }',
    );
    assert.equal(runModule(env, 'uninstall').links[0]?.action, 'kept');
    assert.ok(
      existsSync(path.join(moduleFolder, 'AzureStackBackup.psd1')),
      'uninstall leaves another copy alone',
    );
  });
});

test('module uninstall removes the link, after which import by name fails; again, it finds nothing to remove', () => {
  withUser((env, moduleFolder) => {
    runModule(env, 'install');
    assert.deepEqual(runModule(env, 'uninstall').links, [
      { link: moduleFolder, target: repoRoot, action: 'removed' },
    ]);
    assert.equal(existsSync(moduleFolder), false);
    assert.ok(existsSync(path.join(repoRoot, 'AzureStackBackup.psd1')), 'the checkout itself is untouched');
    assert.notEqual(pwsh(env, 'Import-Module AzureStackBackup -ErrorAction Stop').status, 0);
    assert.equal(runModule(env, 'uninstall').links[0]?.action, 'absent');
  });
});
