/**
 * The engine's way to its store: the configured settings, opened through the factory the
 * composition root gives (the daemon passes storage/openStore.ts; tests may pass their own).
 */
import { AzsError } from '../protocol/errors.js';
import type { SavedConfig, StateDir } from '../state/stateDir.js';
import type { BackupStore, StoreSettings } from '../storage/store.js';
import { advisedStore, withOperatorAdvice } from './storeAdvice.js';

/** Opens the store for a configured path; the engine closes it after use. */
export type OpenStore = (settings: StoreSettings) => BackupStore;

export class Stores {
  constructor(
    private readonly state: StateDir,
    private readonly openStore: OpenStore,
  ) {}

  /** The store settings of a configuration, with the given overrides (Test-AzsBackupShareAccessibility). */
  async settingsOf(
    config: SavedConfig,
    override: Partial<StoreSettings> = {},
  ): Promise<StoreSettings | null> {
    const storePath = override.path ?? config.path;
    if (!storePath) return null;
    return {
      path: storePath,
      userName: override.userName ?? config.userName,
      password: override.password ?? (await this.state.openPassword(config)),
      requireEncryption: override.requireEncryption ?? config.requireEncryption,
    };
  }

  /** The settings of the saved configuration; NotConfigured when no store is configured. */
  async configured(config?: SavedConfig): Promise<StoreSettings> {
    const settings = await this.settingsOf(config ?? (await this.state.readConfig()));
    if (!settings) {
      throw new AzsError(
        'NotConfigured',
        'No backup store is configured. Run Set-AzsBackupConfiguration -Path <share or folder> first.',
        { parameter: 'Path' },
      );
    }
    return settings;
  }

  /**
   * Runs `action` against the store of `settings`, closed afterwards. The store's errors state facts;
   * the operator's advice (which cmdlet, which parameter) is added here, above the store. (An open
   * that fails is a rejected promise, not a throw: callers chain .catch on it.)
   */
  async with<T>(settings: StoreSettings, action: (store: BackupStore) => Promise<T>): Promise<T> {
    return closedAfter(this.open(settings), action);
  }

  private open(settings: StoreSettings): BackupStore {
    try {
      return advisedStore(this.openStore(settings));
    } catch (error) {
      throw withOperatorAdvice(error);
    }
  }

  /** Runs `action` against the configured store. */
  async withConfigured<T>(action: (store: BackupStore) => Promise<T>): Promise<T> {
    return this.with(await this.configured(), action);
  }

  /** Runs `action` against `open`, or against the configured store opened for it. */
  async withOpenOrConfigured<T>(
    open: BackupStore | null,
    action: (store: BackupStore) => Promise<T>,
  ): Promise<T> {
    return open ? action(open) : this.withConfigured(action);
  }

  /**
   * Runs `action` with the configured store open for all of its steps, or with null when none is
   * configured or it cannot be opened (the password does not unseal, …): each step then opens it on
   * its own and says why it cannot, as when called alone.
   */
  async withConfiguredIfOpens<T>(action: (store: BackupStore | null) => Promise<T>): Promise<T> {
    const store = await this.configured()
      .then((settings) => this.open(settings))
      .catch(() => null);
    return store ? closedAfter(store, action) : action(null);
  }
}

async function closedAfter<T>(store: BackupStore, action: (store: BackupStore) => Promise<T>): Promise<T> {
  try {
    return await action(store);
  } finally {
    await store.close();
  }
}
