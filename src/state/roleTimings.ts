/**
 * roleTimings.json: how long each role took in its last backup (see engine/roleOrder.ts). A cache
 * that only orders work: a missing or unreadable file means registration order for one backup.
 */
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import type { StateDir } from './stateDir.js';

/** Seconds each role took in the last backup that stored it, by role name. */
export type RoleSeconds = Record<string, number>;

export class RoleTimings {
  constructor(private readonly state: StateDir) {}

  private get file(): string {
    return this.state.roleTimingsFile;
  }

  async read(): Promise<RoleSeconds> {
    const saved = await readJsonIfExists<unknown>(this.file).catch(() => undefined);
    if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) return {};
    return Object.fromEntries(
      Object.entries(saved).filter(([, seconds]) => typeof seconds === 'number' && seconds >= 0),
    ) as RoleSeconds;
  }

  async save(timings: RoleSeconds): Promise<void> {
    await writeJsonAtomic(this.file, timings);
  }
}
