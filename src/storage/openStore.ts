/** Chooses the store backend for a configured path. */
import path from 'node:path';
import { AzsError } from '../protocol/errors.js';
import { LocalFolderStore } from './localStore.js';
import type { BackupStore, StoreSettings } from './store.js';

/** `\\server\share\...` or `//server/share/...`: an SMB share reached by the engine itself. */
export function isSharePath(storePath: string): boolean {
  return /^(\\\\|\/\/)[^\\/]/.test(storePath);
}

export function openStore(settings: StoreSettings): BackupStore {
  if (isSharePath(settings.path)) {
    throw new AzsError(
      'InvalidParameter',
      `SMB share paths such as '${settings.path}' are not supported by this build yet; give a local or mounted folder.`,
      {
        parameter: 'Path',
        target: settings.path,
      },
    );
  }
  if (!path.isAbsolute(settings.path)) {
    throw new AzsError(
      'InvalidParameter',
      `-Path '${settings.path}' must be an absolute folder path (or a \\\\server\\share path).`,
      {
        parameter: 'Path',
        target: settings.path,
      },
    );
  }
  return new LocalFolderStore(path.resolve(settings.path));
}
