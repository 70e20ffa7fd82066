/**
 * Role paths that may not be registered or backed up (issue 14): the whole system, the kernel's live
 * views, and anything that holds or lies inside the store or the daemon's state folder, compared as
 * the system resolves them. A real RoleService on a real state folder.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RoleService } from '../../src/engine/roles.js';
import { isAzsError } from '../../src/protocol/errors.js';
import type { Role } from '../../src/protocol/objects.js';
import { StateDir } from '../../src/state/stateDir.js';
import { systemClock } from '../../src/util/clock.js';

describe('Role paths that are refused', () => {
  let work: string;
  let state: StateDir;
  let roles: RoleService;
  let store: string;
  let count = 0;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'azs-role-placement-'));
    store = path.join(work, 'backups', 'store');
    await mkdir(path.join(store, 'inside'), { recursive: true });
    await mkdir(path.join(work, 'backups', 'store-data'), { recursive: true });
    await symlink(store, path.join(work, 'link-to-store'));
    state = await StateDir.open(path.join(work, 'state'));
    await mkdir(path.join(state.root, 'inside'));
    await state.writeConfig({ ...(await state.readConfig()), path: store });
    roles = new RoleService(state, systemClock);
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  const register = (folder: string) =>
    roles.register({ Name: `R${(count += 1)}`, Provider: 'Directory', Path: folder });

  async function refused(folder: string, why: RegExp): Promise<void> {
    await assert.rejects(register(folder), (error) => {
      assert.ok(isAzsError(error, 'InvalidParameter'), String(error));
      assert.equal(error.parameter, 'Path');
      assert.match(error.message, new RegExp(`^-Path '${folder}' `));
      assert.match(error.message, why);
      assert.match(error.message, /Give the folder or database file that holds only the role's own data/);
      return true;
    });
  }

  it('refuses the root of the file system and the kernel’s live views', async () => {
    await refused('/', /is the root of the file system/);
    for (const folder of ['/proc', '/proc/self', '/sys', '/dev', '/dev/shm'])
      await refused(folder, /the kernel's live view of the system/);
  });

  it('refuses the store, a folder inside it, a folder holding it, and a link to it', async () => {
    await refused(store, /holds the backup store/);
    await refused(path.join(store, 'inside'), /lies inside the backup store/);
    await refused(path.join(work, 'backups'), /holds the backup store/);
    await refused(work, /holds the daemon's state folder|holds the backup store/);
    await refused(path.join(work, 'link-to-store'), /holds the backup store/);
  });

  it('refuses the state folder, a folder inside it, and a folder holding it', async () => {
    await refused(state.root, /holds the daemon's state folder/);
    await refused(path.join(state.root, 'inside'), /lies inside the daemon's state folder/);
  });

  it('accepts a folder beside the store whose name merely starts the same', async () => {
    const role = await register(path.join(work, 'backups', 'store-data'));
    assert.equal(role.Path, path.join(work, 'backups', 'store-data'));
  });

  it('fails a registered role at backup time once the store has moved inside it', async () => {
    const data = path.join(work, 'backups', 'store-data');
    const [role] = (await roles.list()).filter((candidate) => candidate.Path === data) as Role[];
    await roles.checkPlacement(role!, store);
    await assert.rejects(roles.checkPlacement(role!, path.join(data, 'new-store')), (error) => {
      assert.ok(isAzsError(error, 'RoleFailed'));
      assert.match(error.message, new RegExp(`its -Path '${data}' holds the backup store`));
      assert.match(error.message, /register it again/);
      return true;
    });
  });
});
