/** Small facts about a role's files that every path-based provider needs. */
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { AzsError } from '../protocol/errors.js';
import type { RoleRegistration } from './provider.js';

/** The role's absolute Path; Directory and Sqlite roles cannot work without one. */
export function rolePath(role: RoleRegistration): string {
  if (!role.Path || !path.isAbsolute(role.Path)) {
    throw new AzsError(
      'InvalidParameter',
      `A ${role.Provider} role needs an absolute -Path (role '${role.Name}').`,
      {
        parameter: 'Path',
        target: role.Name,
      },
    );
  }
  return role.Path;
}

export async function statOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await stat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
