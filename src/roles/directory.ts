/** The Directory provider: a folder tree, taken as it is and put back exactly (see treeWalker/treeWriter). */
import { chmod, lchown } from 'node:fs/promises';
import type { ArchiveEntry, ExtractedEntry } from '../archive/entry.js';
import { AzsError } from '../protocol/errors.js';
import type { RestoreResult, RoleContext, RoleProvider, RoleRegistration } from './provider.js';
import { rolePath, statOrUndefined } from './roleFiles.js';
import { buildBeside, previousDataAside } from './swap.js';
import { walkTree } from './treeWalker.js';
import { runsAsRoot, writeTree } from './treeWriter.js';

/** A folder restored where none existed before gets the usual folder mode. */
const NEW_FOLDER_MODE = 0o755;

export class DirectoryProvider implements RoleProvider {
  readonly name = 'Directory';

  async validate(role: RoleRegistration): Promise<void> {
    const folder = rolePath(role);
    const stats = await statOrUndefined(folder);
    if (!stats) {
      throw new AzsError(
        'PathNotFound',
        `The folder '${folder}' does not exist. Create it, or give the folder that holds the role's data as -Path.`,
        {
          parameter: 'Path',
          target: folder,
        },
      );
    }
    if (!stats.isDirectory()) {
      throw new AzsError(
        'InvalidParameter',
        `'${folder}' is not a folder. A Directory role's -Path must be a folder.`,
        {
          parameter: 'Path',
          target: folder,
        },
      );
    }
  }

  whyEmpty(role: RoleRegistration): string {
    return `the folder '${rolePath(role)}' is empty`;
  }

  async *snapshot(role: RoleRegistration, context: RoleContext): AsyncGenerator<ArchiveEntry> {
    const folder = rolePath(role);
    if (!(await statOrUndefined(folder))?.isDirectory()) {
      const [aside] = await previousDataAside(folder);
      if (aside) throw interruptedRestore(role, folder, aside);
      throw new AzsError(
        'RoleFailed',
        `Role '${role.Name}': the folder '${folder}' does not exist. Restore or recreate it, or unregister the role.`,
        { target: role.Name },
      );
    }
    yield* walkTree(folder, { listSmallFiles: context.listSmallFiles });
  }

  restoreTarget(role: RoleRegistration): string {
    return rolePath(role);
  }

  /**
   * Builds the tree beside the folder, then swaps it in; the folder keeps its own owner and mode (read once an
   * interrupted restore's previous data is back in place).
   */
  async restore(
    role: RoleRegistration,
    entries: AsyncIterable<ExtractedEntry>,
    _context: RoleContext,
  ): Promise<RestoreResult> {
    const folder = rolePath(role);
    return buildBeside(folder, 'folder', async (temp) => {
      const current = await statOrUndefined(folder);
      await writeTree(entries, temp);
      // The folder itself is not in the backup: it keeps its current owner (the service's account).
      if (current && runsAsRoot()) await lchown(temp, current.uid, current.gid);
      await chmod(temp, (current?.mode ?? NEW_FOLDER_MODE) & 0o7777);
    });
  }
}

/**
 * The folder is missing because a restore was killed between its two renames: backing up nothing
 * would hide that, so the role fails and names where its data is.
 */
function interruptedRestore(role: RoleRegistration, folder: string, aside: string): AzsError {
  return new AzsError(
    'RoleFailed',
    `Role '${role.Name}': the folder '${folder}' is missing because a restore was interrupted; '${aside}' holds the data from before that restore. ` +
      `Run the restore of this role again to finish it, or rename '${aside}' to '${folder}' to keep the earlier data; then run the backup again.`,
    { target: role.Name },
  );
}
