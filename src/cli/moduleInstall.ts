/**
 * `azsbackup module install|uninstall`: puts the PowerShell module of this checkout on the current
 * user's PSModulePath, so that `Import-Module AzureStackBackup` works by name in every new session.
 *
 * The module folder is a link to the checkout (a junction on Windows, which needs no privilege),
 * not a copy: the module starts the engine from dist/ next to its manifest, so a copy would need
 * dist/ and node_modules/ too, and would go stale at the next build.
 */
import { lstat, mkdir, readlink, rm, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AzsError } from '../protocol/errors.js';
import { isWindows } from '../util/platform.js';

const MODULE_NAME = 'AzureStackBackup';

/** The checkout: dist/src/cli/ is three folders below it. */
const checkoutRoot = fileURLToPath(new URL('../../../', import.meta.url)).replace(/[\\/]$/, '');

/**
 * The current user's module folders, the first entries of PSModulePath: PowerShell 7 on Linux and
 * macOS reads $XDG_DATA_HOME/powershell/Modules (default ~/.local/share/powershell/Modules); on
 * Windows PowerShell 7 and Windows PowerShell 5.1 each have their own under Documents.
 */
export function userModuleFolders(env: NodeJS.ProcessEnv = process.env): string[] {
  if (isWindows) {
    const documents = path.join(os.homedir(), 'Documents');
    return [
      path.join(documents, 'PowerShell', 'Modules'),
      path.join(documents, 'WindowsPowerShell', 'Modules'),
    ];
  }
  const dataHome = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return [path.join(dataHome, 'powershell', 'Modules')];
}

export interface ModuleLink {
  /** The module folder: <user module folder>/AzureStackBackup. */
  link: string;
  target: string;
  /**
   * What the command did: linked; relinked (it pointed at another checkout); unchanged; removed;
   * absent (nothing to remove); kept (uninstall leaves a folder of its own, another copy, alone).
   */
  action: 'linked' | 'relinked' | 'unchanged' | 'removed' | 'absent' | 'kept';
}

/** What is at the module folder's place: nothing, a link (symbolic or junction), or a folder of its own. */
type Occupant = { kind: 'none' } | { kind: 'link'; target: string } | { kind: 'folder' };

async function occupantOf(link: string): Promise<Occupant> {
  const stats = await lstat(link).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (!stats) return { kind: 'none' };
  if (!stats.isSymbolicLink()) return { kind: 'folder' };
  return { kind: 'link', target: path.resolve(path.dirname(link), await readlink(link)) };
}

async function linkModule(folder: string, target: string): Promise<ModuleLink> {
  const link = path.join(folder, MODULE_NAME);
  const occupant = await occupantOf(link);
  if (occupant.kind === 'folder') {
    throw new AzsError(
      'ModuleFolderInUse',
      `'${link}' is a folder of its own, not a link made by 'azsbackup module install': another copy of the ` +
        `${MODULE_NAME} module is installed there. Remove that folder (or Uninstall-Module ${MODULE_NAME}) and run the command again.`,
      { target: link },
    );
  }
  if (occupant.kind === 'link' && occupant.target === target) return { link, target, action: 'unchanged' };
  await mkdir(folder, { recursive: true });
  if (occupant.kind === 'link') await rm(link);
  await symlink(target, link, 'junction');
  return { link, target, action: occupant.kind === 'link' ? 'relinked' : 'linked' };
}

/** Links the module of `root` into every user module folder; running it again changes nothing. */
export async function installModule(
  root = checkoutRoot,
  folders = userModuleFolders(),
): Promise<ModuleLink[]> {
  if (
    !existsSync(path.join(root, `${MODULE_NAME}.psd1`)) ||
    !existsSync(path.join(root, 'dist', 'src', 'cli', 'main.js'))
  ) {
    throw new AzsError(
      'PathNotFound',
      `'${root}' holds no built ${MODULE_NAME} module (${MODULE_NAME}.psd1 and dist/): run 'npm ci' there first.`,
      { target: root },
    );
  }
  const links: ModuleLink[] = [];
  for (const folder of folders) links.push(await linkModule(folder, root));
  return links;
}

/** Removes the links install made; a folder of its own (another installed copy) is left alone. */
export async function uninstallModule(folders = userModuleFolders()): Promise<ModuleLink[]> {
  const links: ModuleLink[] = [];
  for (const folder of folders) {
    const link = path.join(folder, MODULE_NAME);
    const occupant = await occupantOf(link);
    if (occupant.kind === 'link') await rm(link);
    const action = { none: 'absent', link: 'removed', folder: 'kept' } as const;
    links.push({
      link,
      target: occupant.kind === 'link' ? occupant.target : '',
      action: action[occupant.kind],
    });
  }
  return links;
}
