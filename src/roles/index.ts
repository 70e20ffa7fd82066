/** The infrastructure-role providers by name, as the engine looks them up from a registration. */
import { AzsError } from '../protocol/errors.js';
import { DirectoryProvider } from './directory.js';
import { PowerShellProvider } from './powershell.js';
import type { ProviderName, RoleProvider, RoleRegistration } from './provider.js';
import { SqliteProvider } from './sqlite.js';

export type { ProviderName, RoleContext, RoleProvider, RoleRegistration } from './provider.js';
export { DirectoryProvider } from './directory.js';
export { PowerShellProvider, type PowerShellProviderOptions } from './powershell.js';
export { SqliteProvider, type SqliteProviderOptions } from './sqlite.js';
export { writeTree } from './treeWriter.js';
export { buildBeside, removeRetiredData } from './swap.js';

const providers: Record<ProviderName, RoleProvider> = {
  Directory: new DirectoryProvider(),
  Sqlite: new SqliteProvider(),
  PowerShell: new PowerShellProvider(),
};

export function providerFor(name: ProviderName): RoleProvider {
  const provider = providers[name];
  if (!provider) {
    throw new AzsError(
      'InvalidParameter',
      `Unknown provider '${String(name)}': use Directory, Sqlite or PowerShell.`,
      {
        parameter: 'Provider',
      },
    );
  }
  return provider;
}

/**
 * The warning a role that stored no entries carries on its status: the role succeeded (an empty
 * source is not an error in itself), but a restore of this backup brings nothing back for it.
 */
export function nothingStoredWarning(role: RoleRegistration): string {
  const why = providerFor(role.Provider).whyEmpty?.(role);
  return (
    `Warning: role '${role.Name}' stored nothing (0 files or folders)${why ? `: ${why}` : ''}. ` +
    'A restore of this backup brings no data back for this role: check the role before relying on it.'
  );
}
