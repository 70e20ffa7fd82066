/** Register-, Get-, Unregister-AzsInfrastructureRole: validated registrations kept in the state folder. */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { AzsError, isAzsError } from '../protocol/errors.js';
import type { Role } from '../protocol/objects.js';
import { providerFor } from '../roles/index.js';
import { readRoles, writeRoles, type SavedRole } from '../state/roleStore.js';
import type { StateDir } from '../state/stateDir.js';
import { isSharePath } from '../storage/openStore.js';
import type { Clock } from '../util/clock.js';
import { isWindows } from '../util/platform.js';
import { hasControlCharacters } from '../util/text.js';
import { wildcardToRegExp } from '../util/wildcard.js';

/** The kernel's live views of a Linux system: no role's data (Windows has none of them). */
const SYSTEM_FOLDERS = isWindows ? [] : ['/proc', '/sys', '/dev'];

/**
 * Whether `inner` is `outer` or lies inside it. path.relative compares as the platform does
 * (case-insensitively on Windows).
 */
function isWithin(inner: string, outer: string): boolean {
  const relative = path.relative(outer, inner);
  const leaves = relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
  return !leaves;
}

/**
 * The path as the system resolves it (links followed); for a path that does not exist yet, its
 * nearest existing folder resolved, with the rest appended.
 */
async function realPath(target: string): Promise<string> {
  const absolute = path.resolve(target);
  try {
    return await realpath(absolute);
  } catch (error) {
    const parent = path.dirname(absolute);
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === absolute) return absolute;
    return path.join(await realPath(parent), path.basename(absolute));
  }
}

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

/** Register-AzsInfrastructureRole's request: a path for a file role, scripts for a PowerShell role. */
export interface RoleRegistration {
  Name: string;
  Provider: Role['Provider'];
  Path?: string;
  BackupScript?: string;
  RestoreScript?: string;
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

  async register(params: RoleRegistration): Promise<Role> {
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
    await this.checkPathParameter(role);
    await writeRoles(this.state, [...roles, role]);
    return role;
  }

  /** Register-AzsInfrastructureRole's check of -Path (see placementProblem). */
  private async checkPathParameter(role: Role): Promise<void> {
    const problem = await this.placementProblem(role, (await this.state.readConfig()).path);
    if (problem) {
      throw new AzsError('InvalidParameter', `-Path '${role.Path}' ${problem}`, {
        parameter: 'Path',
        target: role.Path ?? undefined,
      });
    }
  }

  /**
   * Checked again at every backup (the store may have moved since the role was registered): a role
   * whose path is not allowed fails with the same explanation.
   */
  async checkPlacement(role: Role, storePath: string | null): Promise<void> {
    const problem = await this.placementProblem(role, storePath);
    if (problem) {
      throw new AzsError(
        'RoleFailed',
        `Role '${role.Name}': its -Path '${role.Path}' ${problem} Unregister-AzsInfrastructureRole it and register it again with that -Path.`,
        { target: role.Name },
      );
    }
  }

  /**
   * Why a role may not back up or restore its Path, or null. Not the whole system, not the kernel's
   * live views, and neither holding nor lying inside the store or the daemon's state folder (a role
   * on the store would copy every earlier backup into each new one, and one on the state folder
   * would copy its secrets onto the store). Paths are compared as the system resolves them.
   */
  private async placementProblem(role: Role, storePath: string | null): Promise<string | null> {
    if (!role.Path) return null;
    const real = await realPath(role.Path);
    const fix = "Give the folder or database file that holds only the role's own data.";
    if (path.parse(real).root === real) return `is the root of the file system. ${fix}`;
    const system = SYSTEM_FOLDERS.find((folder) => isWithin(real, folder));
    if (system) return `lies in '${system}', the kernel's live view of the system, not data. ${fix}`;
    const guarded = [{ folder: this.state.root, what: "the daemon's state folder" }];
    if (storePath && !isSharePath(storePath)) guarded.push({ folder: storePath, what: 'the backup store' });
    for (const { folder, what } of guarded) {
      const realFolder = await realPath(folder);
      if (isWithin(realFolder, real)) return `holds ${what} '${folder}'. ${fix}`;
      if (isWithin(real, realFolder)) return `lies inside ${what} '${folder}'. ${fix}`;
    }
    return null;
  }

  /**
   * Takes role registrations recorded in a backup (cloud recovery): each replaces a registration of
   * the same name, or is added. The restore decides which (engine/recovery.ts, planRoles). Each must
   * be one Register-AzsInfrastructureRole would accept; otherwise nothing is adopted.
   */
  async adopt(recorded: SavedRole[]): Promise<void> {
    if (!recorded.length) return;
    const checked = await Promise.all(recorded.map((role) => this.adoptable(role)));
    const adopted = new Set(checked.map((role) => role.Name.toLowerCase()));
    const kept = (await this.list()).filter((role) => !adopted.has(role.Name.toLowerCase()));
    await writeRoles(this.state, [...kept, ...checked]);
  }

  /** Throws as adopt would, adopting nothing: a restore checks this before it writes any role's data. */
  async checkAdoptable(recorded: SavedRole[]): Promise<void> {
    await Promise.all(recorded.map((role) => this.adoptable(role)));
  }

  private async adoptable(role: SavedRole): Promise<SavedRole> {
    try {
      checkRoleName(role.Name);
      const registration = this.registrationOf({
        Name: role.Name,
        Provider: role.Provider,
        Path: role.Path ?? undefined,
        BackupScript: role.BackupScript ?? undefined,
        RestoreScript: role.RestoreScript ?? undefined,
      });
      await this.checkPathParameter(registration);
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

  private registrationOf(params: RoleRegistration): SavedRole {
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
