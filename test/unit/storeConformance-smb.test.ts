/** The store contract against a real Samba server, reached through smbclient. */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before } from 'node:test';
import { SmbStore } from '../../src/storage/smbStore.js';
import { SambaServer } from '../helpers/samba.js';
import { overwriteIn, storeConformance } from './storeConformance.js';

let server: SambaServer;
before(async () => {
  server = await SambaServer.start();
});
after(() => server.dispose());

storeConformance('SMB share through smbclient', async () => {
  const folder = `store-${randomBytes(4).toString('hex')}`;
  const settings = { userName: server.user, password: server.password, requireEncryption: false };
  // The folder named by -Path must already exist: make it through the share itself.
  await new SmbStore({ ...settings, path: server.uncPath('backup') }).mkdir(folder);
  const disk = path.join(server.sharePath('backup'), folder);
  return {
    store: new SmbStore({ ...settings, path: server.uncPath('backup', folder) }),
    disk,
    overwrite: overwriteIn(disk),
  };
});
