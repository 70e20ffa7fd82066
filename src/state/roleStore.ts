/** The registered infrastructure roles of a deployment: roles.json in the state folder, written atomically. */
import type { Role } from '../protocol/objects.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import type { StateDir } from './stateDir.js';

export type SavedRole = Role;

export async function readRoles(state: StateDir): Promise<SavedRole[]> {
  return (await readJsonIfExists<SavedRole[]>(state.rolesFile)) ?? [];
}

export async function writeRoles(state: StateDir, roles: SavedRole[]): Promise<void> {
  await writeJsonAtomic(state.rolesFile, roles);
}
