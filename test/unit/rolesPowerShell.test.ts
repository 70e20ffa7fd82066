import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAzsError } from '../../src/protocol/errors.js';
import { PowerShellProvider, providerFor } from '../../src/roles/index.js';
import type { RoleRegistration } from '../../src/roles/provider.js';
import { collect, replay } from '../helpers/roleEntries.js';
import { waitUntil } from '../helpers/waitUntil.js';

const provider = new PowerShellProvider();
const PWSH_BOUND = { timeout: 120_000 };

function role(BackupScript: string, RestoreScript = 'return'): RoleRegistration {
  return {
    Name: 'KeyVault',
    Provider: 'PowerShell',
    Path: null,
    BackupScript,
    RestoreScript,
    RegisteredTime: '',
  };
}

/** Running, and not merely a zombie waiting for init to reap it (Linux). */
function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A single-quoted PowerShell string literal. */
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

describe('PowerShell provider', () => {
  let work: string;
  let counter = 0;
  const staging = async () => {
    const folder = path.join(work, `staging-${(counter += 1)}`);
    await mkdir(folder);
    return { stagingDir: folder, signal: new AbortController().signal };
  };

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'azs-roles-pwsh-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('is what providerFor gives for PowerShell', () => {
    assert.ok(providerFor('PowerShell') instanceof PowerShellProvider);
  });

  it('stores what the backup script stages and gives it back to the restore script', PWSH_BOUND, async () => {
    const restored = path.join(work, 'restored');
    const backupScript = [
      "Set-Content -LiteralPath (Join-Path $StagingPath 'vault.json') -Value '{\"secrets\": 3}' -NoNewline",
      "$folder = New-Item -ItemType Directory -Path (Join-Path $StagingPath 'certs ünï')",
      "Set-Content -LiteralPath (Join-Path $folder 'ca.pem') -Value 'PEM' -NoNewline",
      "Write-Output 'output is ignored'",
      "Write-Host 'host text is ignored'",
    ].join('\n');
    const restoreScript = [
      'param($StagingPath)',
      `Copy-Item -Recurse -LiteralPath $StagingPath -Destination ${literal(restored)}`,
    ].join('\n');
    const registration = role(backupScript, restoreScript);
    const entries = await collect(provider.snapshot(registration, await staging()));
    assert.deepEqual(
      entries.map((entry) => [entry.path, entry.type]),
      [
        ['certs ünï', 'directory'],
        ['certs ünï/ca.pem', 'file'],
        ['vault.json', 'file'],
      ],
    );
    await provider.restore(registration, replay(entries), await staging());
    assert.equal(await readFile(path.join(restored, 'vault.json'), 'utf8'), '{"secrets": 3}');
    assert.equal(await readFile(path.join(restored, 'certs ünï', 'ca.pem'), 'utf8'), 'PEM');
  });

  it('hands the staging folder to a script whatever its parameter is called', PWSH_BOUND, async () => {
    // Register-AzsInfrastructureRole's help once used param($Staging): the engine bound -StagingPath
    // only, so "$Staging/users.xml" named the file system's root and the role stored nothing.
    const file = `azs-staging-contract-${process.pid}.txt`;
    const restored = path.join(work, 'restored-by-position');
    const registration = role(
      `param($Staging) Set-Content -LiteralPath "$Staging/${file}" -Value 'users' -NoNewline`,
      `param($Staging) Copy-Item -LiteralPath "$Staging/${file}" -Destination ${literal(restored)}`,
    );
    const entries = await collect(provider.snapshot(registration, await staging()));
    assert.equal(existsSync(`/${file}`), false, 'nothing is written into the root folder');
    assert.deepEqual(
      entries.map((entry) => [entry.path, entry.data?.toString()]),
      [[file, 'users']],
    );
    await provider.restore(registration, replay(entries), await staging());
    assert.equal(await readFile(restored, 'utf8'), 'users');
  });

  it(
    'binds the staging folder to an advanced script, to $args, and to nothing in an empty param block',
    PWSH_BOUND,
    async () => {
      const scripts = [
        "[CmdletBinding()] param([Parameter(Mandatory)][string] $Folder, [int] $Depth = 1) Set-Content -LiteralPath (Join-Path $Folder 'a.txt') -Value a",
        "Set-Content -LiteralPath (Join-Path $args[0] 'a.txt') -Value a",
        "param() Set-Content -LiteralPath (Join-Path $StagingPath 'a.txt') -Value a",
        "param([string] $Other, [string] $StagingPath) Set-Content -LiteralPath (Join-Path $StagingPath 'a.txt') -Value a",
      ];
      for (const script of scripts) {
        const entries = await collect(provider.snapshot(role(script), await staging()));
        assert.deepEqual(
          entries.map((entry) => entry.path),
          ['a.txt'],
          script,
        );
      }
    },
  );

  it('runs the script in the staging folder, so relative paths land there', PWSH_BOUND, async () => {
    const script = [
      "Set-Content -Path 'by-location.txt' -Value 'cmdlet'",
      "[IO.File]::WriteAllText('by-process.txt', 'dotnet')",
      'if ((Get-Location).Path -ne $StagingPath) { throw "location is $(Get-Location)" }',
    ].join('\n');
    const entries = await collect(provider.snapshot(role(script), await staging()));
    assert.deepEqual(
      entries.map((entry) => entry.path),
      ['by-location.txt', 'by-process.txt'],
    );
  });

  it('runs scripts under strict mode: an unset variable fails the role', PWSH_BOUND, async () => {
    const misspelt = role('Set-Content -LiteralPath "$Stagingpth/users.xml" -Value users; \'went on\'');
    await assert.rejects(provider.snapshot(misspelt, await staging()).next(), (error) => {
      assert.ok(isAzsError(error, 'RoleFailed'));
      assert.match(
        error.message,
        /backup script failed: .*'\$Stagingpth' cannot be retrieved because it has not been set/,
      );
      return true;
    });
  });

  it('fails the role with the message of a script that throws', PWSH_BOUND, async () => {
    await assert.rejects(
      provider.snapshot(role("throw 'vault is sealed'"), await staging()).next(),
      (error) => {
        assert.ok(isAzsError(error, 'RoleFailed'));
        assert.equal(error.message, "Role 'KeyVault': backup script failed: vault is sealed");
        return true;
      },
    );
  });

  it('fails the role on a non-terminating error or a native command that fails', PWSH_BOUND, async () => {
    const written = role("Write-Error 'one key could not be read'; 'went on'");
    await assert.rejects(
      provider.snapshot(written, await staging()).next(),
      (error) =>
        isAzsError(error, 'RoleFailed') &&
        /backup script failed: one key could not be read$/.test(error.message),
    );
    const native = role("sh -c 'echo only a warning >&2'; sh -c 'exit 3'");
    await assert.rejects(
      provider.snapshot(native, await staging()).next(),
      (error) =>
        isAzsError(error, 'RoleFailed') && /backup script failed: .*exit code: 3/.test(error.message),
    );
  });

  it('fails the role when the restore script fails, after staging the files', PWSH_BOUND, async () => {
    const registration = role(
      'return',
      "if (Test-Path (Join-Path $StagingPath 'a.txt')) { throw 'staged file seen' }",
    );
    const entries = replay([
      { path: 'a.txt', type: 'file', mode: 0o644, mtimeMs: Date.now(), size: 1, data: Buffer.from('a') },
    ]);
    await assert.rejects(provider.restore(registration, entries, await staging()), {
      message: "Role 'KeyVault': restore script failed: staged file seen",
    });
  });

  it('stops a script that runs past its time limit', PWSH_BOUND, async () => {
    const pidFile = path.join(work, 'sleeper.pid');
    const hasty = new PowerShellProvider({ scriptTimeoutMs: 5_000 });
    const sleeper = role(
      `Set-Content -LiteralPath ${literal(pidFile)} -Value $PID; Start-Sleep -Seconds 600`,
    );
    await assert.rejects(
      hasty.snapshot(sleeper, await staging()).next(),
      (error) =>
        isAzsError(error, 'RoleFailed') && /did not finish within 5 s and was stopped/.test(error.message),
    );
    // The script's own process is killed, not only pwsh's launcher (a dotnet tool starts it as a child).
    const pid = Number(await readFile(pidFile, 'utf8'));
    await waitUntil(() => !isAlive(pid), `the timed-out script's PowerShell (pid ${pid}) to end`);
  });

  it('stops a script when the job is cancelled', PWSH_BOUND, async () => {
    const started = path.join(work, 'started');
    const controller = new AbortController();
    const context = { ...(await staging()), signal: controller.signal };
    const run = provider
      .snapshot(role(`New-Item ${literal(started)}; Start-Sleep -Seconds 600`), context)
      .next();
    await waitUntil(() => existsSync(started), 'pwsh to start the role script');
    controller.abort();
    await assert.rejects(run, (error) => isAzsError(error, 'JobCancelled'));
  });

  it('fails the role when the script leaves PowerShell with exit', PWSH_BOUND, async () => {
    await assert.rejects(
      provider.snapshot(role('exit 0'), await staging()).next(),
      (error) => isAzsError(error, 'RoleFailed') && /'return', not 'exit'/.test(error.message),
    );
  });

  it('validates that both scripts parse', PWSH_BOUND, async () => {
    await provider.validate(
      role('Get-ChildItem $StagingPath', 'param($StagingPath) Write-Output $StagingPath'),
    );
    await assert.rejects(provider.validate(role('if ($true) {')), (error) => {
      assert.ok(isAzsError(error, 'InvalidParameter'));
      assert.equal(error.parameter, 'BackupScript');
      assert.match(error.message, /-BackupScript does not parse: line 1: Missing closing '}'/);
      return true;
    });
    await assert.rejects(
      provider.validate(role('return', 'foreach ($x in ) { }')),
      (error) => isAzsError(error, 'InvalidParameter') && error.parameter === 'RestoreScript',
    );
    await assert.rejects(provider.validate(role('return', '  ')), (error) =>
      isAzsError(error, 'InvalidParameter'),
    );
  });
});
