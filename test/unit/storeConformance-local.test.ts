/** The store contract against a local folder. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { LocalFolderStore } from '../../src/storage/localStore.js';
import { storeConformance } from './storeConformance.js';

const folders: string[] = [];
after(() => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

storeConformance('local folder', async () => {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'azs-store-'));
  folders.push(folder);
  return new LocalFolderStore(folder);
});
