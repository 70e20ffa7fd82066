/**
 * The state folder (--state-dir / AZSBACKUP_HOME): made 0700 when new; an existing one is never
 * chmod-ed, and used only when it is this account's own folder that no one else can write.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { isAzsError } from '../../src/protocol/errors.js';
import { StateLayout } from '../../src/state/layout.js';
import { repoRoot } from '../helpers/pwsh.js';
import { StateDir } from '../../src/state/stateDir.js';

const base = await mkdtemp(path.join(os.tmpdir(), 'azs-statedir-'));
after(() => rm(base, { recursive: true, force: true }));

const modeOf = async (folder: string) => (await stat(folder)).mode & 0o7777;

const refused = (pattern: RegExp) => (error: unknown) =>
  isAzsError(error, 'StateDirUnsafe') &&
  error.parameter === 'state-dir' &&
  /--state-dir/.test(error.message) &&
  /AZSBACKUP_HOME/.test(error.message) &&
  pattern.test(error.message);

describe('state folder', () => {
  it('a new folder is made with mode 0700, its parents as needed', async () => {
    const root = path.join(base, 'new', 'deeper', 'state');
    const state = await StateDir.open(root);
    assert.equal(await modeOf(root), 0o700);
    assert.match(state.identity.DeploymentId, /^[0-9a-f-]{36}$/);
  });

  it('a shared 1777 folder is refused and keeps its sticky bit', async () => {
    const shared = path.join(base, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    await assert.rejects(
      StateDir.open(shared),
      refused(/written by its group or by other users \(mode 1777\)/),
    );
    assert.equal(await modeOf(shared), 0o1777);
  });

  it('a group-writable folder is refused and left as it is', async () => {
    const group = path.join(base, 'group');
    await mkdir(group);
    await chmod(group, 0o770);
    await assert.rejects(StateDir.open(group), refused(/mode 770/));
    assert.equal(await modeOf(group), 0o770);
  });

  it('a link to a folder is refused, even to one of this account', async () => {
    const target = path.join(base, 'target');
    await mkdir(target, { mode: 0o700 });
    const link = path.join(base, 'link');
    await symlink(target, link);
    await assert.rejects(StateDir.open(link), refused(/symbolic link/));
  });

  it('a file is refused', async () => {
    const file = path.join(base, 'file');
    await writeFile(file, '');
    await assert.rejects(StateDir.open(file), refused(/not a folder/));
  });

  it("another account's folder is refused", async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to give a folder away');
    const foreign = path.join(base, 'foreign');
    await mkdir(foreign, { mode: 0o700 });
    await chown(foreign, 65534, 65534);
    await assert.rejects(StateDir.open(foreign), refused(/belongs to uid 65534/));
  });

  it('an existing folder of this account that others cannot write is used as it is (0755 stays 0755)', async () => {
    const own = path.join(base, 'own');
    await mkdir(own);
    await chmod(own, 0o755);
    await StateDir.open(own);
    assert.equal(await modeOf(own), 0o755);
  });
});

describe('state folder layout', () => {
  const root = path.join(base, 'layout');
  const layout = new StateLayout(root);
  const named = Object.entries(Object.getOwnPropertyDescriptors(StateLayout.prototype))
    .filter(([, descriptor]) => descriptor.get)
    .map(
      ([name]) => [name, path.relative(root, (layout as unknown as Record<string, string>)[name]!)] as const,
    );

  it('names every file and folder once, inside the state folder', () => {
    assert.ok(named.length >= 20);
    for (const [name, relative] of named) {
      assert.ok(relative && !relative.startsWith('..') && !path.isAbsolute(relative), `${name}: ${relative}`);
    }
    assert.equal(new Set(named.map(([, relative]) => relative)).size, named.length);
  });

  it('docs/state.md documents each of them', () => {
    const page = readFileSync(path.join(repoRoot, 'docs', 'state.md'), 'utf8');
    const documented = (relative: string) =>
      [relative, `${relative}/`, path.basename(relative)].some((name) => page.includes(`\`${name}\``));
    assert.deepEqual(
      named.filter(([, relative]) => !documented(relative.split(path.sep).join('/'))),
      [],
    );
  });

  it('an opened state folder has the same layout', async () => {
    const state = await StateDir.open(root);
    for (const [name] of named) {
      const key = name as keyof StateLayout;
      assert.equal(state[key], layout[key], name);
    }
  });
});
