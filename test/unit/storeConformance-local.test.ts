/** The store contract against a local folder, and what only a local folder can be shown to refuse. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { isAzsError } from '../../src/protocol/errors.js';
import { LocalFolderStore } from '../../src/storage/localStore.js';
import { overwriteIn, readAll, storeConformance } from './storeConformance.js';

const folders: string[] = [];
after(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

async function newFolder(prefix: string): Promise<string> {
  const folder = await mkdtemp(path.join(os.tmpdir(), prefix));
  folders.push(folder);
  return folder;
}

storeConformance('local folder, unbuffered where possible', async () => {
  const folder = await newFolder('azs-store-');
  return { store: new LocalFolderStore(folder), disk: folder, overwrite: overwriteIn(folder) };
});

// What the store does where the platform or file system refuses O_DIRECT (Windows, macOS, tmpfs).
storeConformance('local folder, buffered', async () => {
  const folder = await newFolder('azs-store-');
  return {
    store: new LocalFolderStore(folder, { bufferedIo: true }),
    disk: folder,
    overwrite: overwriteIn(folder),
  };
});

const unsafe = (error: unknown) => isAzsError(error, 'StorePathUnsafe') && error.parameter === 'Path';

describe('local folder store: links and special files', () => {
  /** A store holding d/{folder-link → outside, file-link → outside/victim, inner, inner-link → inner, fifo}. */
  async function plantedStore() {
    const root = await newFolder('azs-store-');
    const outside = await newFolder('azs-outside-');
    await writeFile(path.join(outside, 'victim'), 'outside');
    await mkdir(path.join(root, 'd', 'inner'), { recursive: true });
    await writeFile(path.join(root, 'd', 'inner', 'f'), 'inside');
    await symlink(outside, path.join(root, 'd', 'folder-link'));
    await symlink(path.join(outside, 'victim'), path.join(root, 'd', 'file-link'));
    await symlink('inner', path.join(root, 'd', 'inner-link'));
    execFileSync('mkfifo', [path.join(root, 'd', 'fifo')]);
    return { store: new LocalFolderStore(root), root, outside };
  }

  it('lists links and a FIFO as other, without following them', async () => {
    const { store } = await plantedStore();
    const types = Object.fromEntries((await store.list('d')).map((entry) => [entry.name, entry.type]));
    assert.deepEqual(types, {
      fifo: 'other',
      'file-link': 'other',
      'folder-link': 'other',
      inner: 'directory',
      'inner-link': 'other',
    });
    assert.equal((await store.stat('d/folder-link'))?.type, 'other');
    await assert.rejects(store.list('d/folder-link'), unsafe);
    await assert.rejects(store.stat('d/folder-link/victim'), unsafe);
  });

  it('refuses to read a link, through a link (even to inside the store), or a FIFO, at once', async () => {
    const { store } = await plantedStore();
    for (const file of ['d/file-link', 'd/folder-link/victim', 'd/inner-link/f', 'd/fifo']) {
      await assert.rejects(store.readFile(file), unsafe, file);
      await assert.rejects(store.digest(file), unsafe, file);
    }
    await assert.rejects(store.digest('d/inner'), unsafe, 'a folder is read back as no file');
    assert.equal((await readAll(store, 'd/inner/f')).toString(), 'inside');
    assert.equal((await store.digest('d/inner/f')).size, 'inside'.length);
  });

  it('refuses to write or make folders through a link', async () => {
    const { store, outside } = await plantedStore();
    await assert.rejects(store.writeFile('d/folder-link/planted', Readable.from([Buffer.from('x')])), unsafe);
    await assert.rejects(store.mkdir('d/folder-link/sub'), unsafe);
    assert.deepEqual(await readdir(outside), ['victim']);
  });

  it('removes a link as the link, refuses to remove through one, and leaves the target whole', async () => {
    const { store, root, outside } = await plantedStore();
    await assert.rejects(store.remove('d/folder-link/victim'), unsafe);
    await store.remove('d/folder-link');
    await store.remove('d/file-link');
    assert.deepEqual(await readdir(outside), ['victim']);
    await symlink(outside, path.join(root, 'd', 'inner', 'nested-link'));
    await store.remove('d');
    assert.deepEqual(await readdir(root), []);
    assert.deepEqual(await readdir(outside), ['victim']);
  });

  it('works in a root that is itself a link (the operator chose it)', async () => {
    const real = await newFolder('azs-store-');
    const parent = await newFolder('azs-store-link-');
    await symlink(real, path.join(parent, 'store'));
    const store = new LocalFolderStore(path.join(parent, 'store'));
    await store.mkdir('a/b');
    await store.writeFile('a/b/f', Readable.from([Buffer.from('x')]));
    assert.equal((await readAll(store, 'a/b/f')).toString(), 'x');
    assert.deepEqual(
      (await store.list('a')).map((entry) => entry.type),
      ['directory'],
    );
    await store.remove('a');
    assert.deepEqual(await readdir(real), []);
  });
});
