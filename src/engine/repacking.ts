/**
 * Repacking in the daemon (docs/format.md, "Repacking"): after retention, and from
 * Invoke-AzsPruneBackupLocationExternalStore, the current epoch's mostly dead packs are repacked
 * with the data key the daemon keeps sealed (no .pfx). Older epochs, whose key it no longer holds,
 * are left as they are: their packs go whole, once no retained backup lists them.
 */
import { type EpochKeys, epochKeys } from '../crypto/epochKeys.js';
import { type RepositoryBackup, planRepack, removalsOf, repack } from '../repository/repack.js';
import { savedEpoch } from '../state/repositoryEpoch.js';
import type { StateDir } from '../state/stateDir.js';
import type { BackupStore } from '../storage/store.js';
import type { BackupCatalog } from './catalog.js';

export interface RepackOptions {
  /** List what would be repacked, change nothing. */
  dryRun: boolean;
  /** Asked before each old pack is removed: false while a backup runs beside the prune. */
  mayRemove: () => boolean;
}

/**
 * Repacks the current epoch's mostly dead packs and removes its stale index files; returns the
 * store paths removed (or, in a dry run, that it would remove). Nothing when the daemon holds no
 * epoch's key for the configured certificate and store.
 */
export async function repackCurrentEpoch(
  state: StateDir,
  store: BackupStore,
  catalog: BackupCatalog,
  { dryRun, mayRemove }: RepackOptions,
): Promise<string[]> {
  const keys = await currentEpochKeys(state);
  if (!keys) return [];
  try {
    const backups: RepositoryBackup[] = (await catalog.list(store))
      .map((backup) => backup.manifest)
      .filter((manifest) => manifest.Encryption.Epoch === keys.epoch)
      .map((manifest) => ({
        packs: manifest.Roles.flatMap((role) => role.Content?.Packs ?? []),
        lists: manifest.Roles.flatMap((role) => (role.Content ? [role.Content.List] : [])),
      }));
    const plan = await planRepack(store, keys, backups);
    return dryRun ? removalsOf(keys.epoch, plan) : await repack(store, keys, plan, mayRemove);
  } finally {
    keys.data.fill(0);
  }
}

/**
 * The keys of the epoch the daemon writes to (its data key, sealed in the state folder), or null
 * when it holds none for the configured certificate and store. The caller wipes `data` after use.
 */
export async function currentEpochKeys(state: StateDir): Promise<EpochKeys | null> {
  const config = await state.readConfig();
  if (!config.certificate || !config.path) return null;
  const current = await savedEpoch(state, config.certificate, config.path);
  return current && epochKeys(current.epoch, current.dataKey, current.chunkIdFunction);
}
