/**
 * The documentation an operator is sent to: docs/cli.md documents every command the real
 * `azsbackup --help` lists (and every action of those that take one), the page the keep-alive
 * warning names explains `azsbackup service install`, and README says how to install the module.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { cliMain, repoRoot } from '../helpers/pwsh.js';

function help(...command: string[]): string {
  const result = spawnSync(process.execPath, [cliMain, ...command, '--help'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

const read = (relative: string) => readFileSync(path.join(repoRoot, relative), 'utf8');

test('docs/cli.md documents every azsbackup command and action', () => {
  const cliPage = read('docs/cli.md');
  const commands = [...help().matchAll(/^ {2}azsbackup (\w+)( <action>)?/gm)];
  assert.ok(commands.length >= 8, 'the help lists the commands');
  for (const [, name, takesAction] of commands) {
    assert.ok(name, 'the command has a name');
    assert.ok(cliPage.includes(`\`azsbackup ${name}`), `docs/cli.md documents azsbackup ${name}`);
    if (!takesAction) continue;
    const choices = /\[choices: ([^\]]+)\]/.exec(help(name, 'x'))?.[1] ?? '';
    const actions = [...choices.matchAll(/"(\w+)"/g)].map((match) => match[1]);
    assert.ok(actions.length > 0, `azsbackup ${name} lists its actions`);
    for (const action of actions)
      assert.ok(
        cliPage.includes(`\`azsbackup ${name} ${action}`),
        `docs/cli.md documents azsbackup ${name} ${action}`,
      );
  }
});

test('the page the keep-alive warning points to explains azsbackup service install', () => {
  const source = read('src/engine/configuration.ts');
  const warning = /"[^"]*across logoffs and reboots[^"]*"/.exec(source)?.[0] ?? '';
  const page = /see (docs\/[\w-]+\.md)/.exec(warning)?.[1];
  assert.ok(page, `the warning names a page: ${warning}`);
  const text = read(page);
  assert.match(text, /^## .*`azsbackup service`/m, `${page} has a section on azsbackup service`);
  assert.match(text, /systemctl enable --now/);
});

test('README says how to install the module for the current user and where azsbackup runs from', () => {
  const readme = read('README.md');
  const install = /^## Install\n([\s\S]*?)^## /m.exec(readme)?.[1] ?? '';
  assert.match(install, /npx azsbackup module install/);
  assert.match(install, /Import-Module AzureStackBackup/);
  assert.match(install, /PSModulePath/);
  assert.match(install, /PATH/);
  const quickStart = /^## Quick start\n\n```\n([\s\S]*?)```/m.exec(readme)?.[1];
  assert.equal(quickStart, 'npm ci && npm run demo\nnpm test\n', 'the quick start keeps its two commands');
});
