/** The infrastructure-role providers by name, as the engine looks them up from a registration. */
import { AzsError } from '../protocol/errors.js';
import { DirectoryProvider } from './directory.js';
import { PowerShellProvider } from './powershell.js';
import type { ProviderName, RoleProvider } from './provider.js';
import { SqliteProvider } from './sqlite.js';

export type { ProviderName, RoleContext, RoleProvider, RoleRegistration } from './provider.js';
export { DirectoryProvider } from './directory.js';
export { PowerShellProvider, type PowerShellProviderOptions } from './powershell.js';
export { SqliteProvider, type SqliteProviderOptions } from './sqlite.js';
export { writeTree } from './treeWriter.js';

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
