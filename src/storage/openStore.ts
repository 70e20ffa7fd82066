/** Chooses the store backend for a configured path. */
import path from 'node:path';
import { isBlobPath } from './blobLocation.js';
import { BlobStore } from './blobStore.js';
import { LocalFolderStore } from './localStore.js';
import { RetryingStore } from './smbRetry.js';
import { SmbStore } from './smbStore.js';
import type { BackupStore, StoreSettings } from './store.js';
import { StoreError } from './storeError.js';

/** `\\server\share\...` or `//server/share/...`: an SMB share reached by the engine itself. */
export function isSharePath(storePath: string): boolean {
  return /^(\\\\|\/\/)[^\\/]/.test(storePath);
}

export function openStore(settings: StoreSettings): BackupStore {
  if (isBlobPath(settings.path)) return new RetryingStore(new BlobStore(settings));
  // On Windows the OS's own SMB client reads a UNC path as a folder (docs/storage.md).
  if (isSharePath(settings.path) && process.platform !== 'win32') {
    return new RetryingStore(new SmbStore(settings));
  }
  if (!path.isAbsolute(settings.path)) {
    throw new StoreError(
      'InvalidParameter',
      `'${settings.path}' must be an absolute folder path (or a \\\\server\\share path, or a blob container's https:// URL).`,
      { parameter: 'Path', target: settings.path, facts: { backend: 'folder', finding: 'bad-setting' } },
    );
  }
  return new LocalFolderStore(path.resolve(settings.path));
}
