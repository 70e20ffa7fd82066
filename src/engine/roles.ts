/** Register-, Get-, Unregister-AzsInfrastructureRole: validated registrations kept in the state folder. */
import path from 'node:path';
import { AzsError, isAzsError } from '../protocol/errors.js';
import type { ParamsOf } from '../protocol/methods.js';
import type { Role } from '../protocol/objects.js';
import { providerFor } from '../roles/index.js';
import { readRoles, writeRoles, type SavedRole } from '../state/roleStore.js';
import type { StateDir } from '../state/stateDir.js';
import type { Clock } from '../util/clock.js';
import { hasControlCharacters } from '../util/text.js';
import { wildcardToRegExp } from '../util/wildcard.js';

/** Role names become folder names on the store: letters, digits, '.', '-', '_'. */
const ROLE_NAME = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;

export function checkRoleName(name: string, parameter = 'Name'): void {
  if (!ROLE_NAME.test(name)) {
    throw new AzsError(
      'InvalidParameter',
      `${parameter} '${name}' is not a valid role name: use 1 to 64 letters, digits, '.', '-' or '_', starting with a letter.`,
      { parameter, target: name },
    );
  }
}

export class RoleService {
  constructor(
    private readonly state: StateDir,
    private readonly clock: Clock,
  ) {}

  list(): Promise<SavedRole[]> {
    return readRoles(this.state);
  }

  async find(pattern?: string): Promise<Role[]> {
    const roles = await this.list();
    if (!pattern) return roles;
    const match = wildcardToRegExp(pattern);
    return roles.filter((role) => match.test(role.Name));
  }

  async register(params: ParamsOf<'role.register'>): Promise<Role> {
    checkRoleName(params.Name);
    const roles = await this.list();
    if (roles.some((role) => role.Name.toLowerCase() === params.Name.toLowerCase())) {
      throw new AzsError(
        'RoleAlreadyExists',
        `A role named '${params.Name}' is already registered. Unregister it first or choose another -Name.`,
        {
          parameter: 'Name',
          target: params.Name,
        },
      );
    }
    const role = this.registrationOf(params);
    await providerFor(role.Provider).validate(role);
    await writeRoles(this.state, [...roles, role]);
    return role;
  }

  /**
   * Takes role registrations recorded in a backup (cloud recovery): each replaces a registration of
   * the same name, or is added. The restore decides which (engine/recovery.ts, planRoles). Each must
   * be one Register-AzsInfrastructureRole would accept; otherwise nothing is adopted.
   */
  async adopt(recorded: SavedRole[]): Promise<void> {
    if (!recorded.length) return;
    const checked = recorded.map((role) => this.adoptable(role));
    const adopted = new Set(checked.map((role) => role.Name.toLowerCase()));
    const kept = (await this.list()).filter((role) => !adopted.has(role.Name.toLowerCase()));
    await writeRoles(this.state, [...kept, ...checked]);
  }

  private adoptable(role: SavedRole): SavedRole {
    try {
      checkRoleName(role.Name);
      const registration = this.registrationOf({
        Name: role.Name,
        Provider: role.Provider,
        Path: role.Path ?? undefined,
        BackupScript: role.BackupScript ?? undefined,
        RestoreScript: role.RestoreScript ?? undefined,
      });
      return { ...registration, RegisteredTime: role.RegisteredTime };
    } catch (error) {
      if (!isAzsError(error)) throw error;
      throw new AzsError(
        'BackupCorrupt',
        `The backup's registration of role '${role.Name}' is one Register-AzsInfrastructureRole refuses (${error.message}), so it is not adopted and nothing was restored. Restore another backup, or register the role yourself and restore it with -RoleName.`,
        { target: role.Name },
      );
    }
  }

  async unregister(name: string): Promise<Role> {
    const roles = await this.list();
    const role = roles.find((candidate) => candidate.Name.toLowerCase() === name.toLowerCase());
    if (!role) {
      throw new AzsError(
        'RoleNotFound',
        `No role named '${name}' is registered. Get-AzsInfrastructureRole lists the registered roles.`,
        {
          parameter: 'Name',
          target: name,
        },
      );
    }
    await writeRoles(
      this.state,
      roles.filter((candidate) => candidate !== role),
    );
    return role;
  }

  private registrationOf(params: ParamsOf<'role.register'>): SavedRole {
    const needsPath = params.Provider !== 'PowerShell';
    if (needsPath && !params.Path) {
      throw new AzsError(
        'InvalidParameter',
        `A ${params.Provider} role needs -Path: the ${params.Provider === 'Sqlite' ? 'database file' : 'folder'} to back up.`,
        {
          parameter: 'Path',
        },
      );
    }
    if (needsPath && hasControlCharacters(params.Path!)) {
      throw new AzsError(
        'InvalidParameter',
        '-Path contains a control character (such as NUL), which no file path may hold. Give the plain absolute path.',
        { parameter: 'Path' },
      );
    }
    if (needsPath && !path.isAbsolute(params.Path!)) {
      throw new AzsError('InvalidParameter', `-Path '${params.Path}' must be an absolute path.`, {
        parameter: 'Path',
        target: params.Path,
      });
    }
    if (!needsPath && (!params.BackupScript || !params.RestoreScript)) {
      throw new AzsError(
        'InvalidParameter',
        'A PowerShell role needs both -BackupScript and -RestoreScript.',
        {
          parameter: params.BackupScript ? 'RestoreScript' : 'BackupScript',
        },
      );
    }
    return {
      Name: params.Name,
      Provider: params.Provider,
      Path: needsPath ? path.resolve(params.Path!) : null,
      BackupScript: needsPath ? null : params.BackupScript!,
      RestoreScript: needsPath ? null : params.RestoreScript!,
      RegisteredTime: this.clock.now().toISOString(),
    };
  }
}
