/**
 * The notification targets, in notifications.json: one atomic file, so an add or a remove is
 * saved whole or not at all. A target's secret is sealed like the store password and opened only
 * to sign a message.
 */
import type { NotificationKind } from '../protocol/objects.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import type { StateDir } from './stateDir.js';

export interface SavedTarget {
  Name: string;
  Kind: NotificationKind;
  Uri: string;
  CreatedTime: string;
  sealedSecret: string | null;
}

/** A target with its secret opened: only for the channel that signs with it, never for a reply. */
export interface TargetWithSecret extends Omit<SavedTarget, 'sealedSecret'> {
  secret: string | null;
}

export class NotificationTargets {
  /** Changes are serialised: each reads, changes and writes the file whole. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly state: StateDir) {}

  private get file(): string {
    return this.state.notificationTargetsFile;
  }

  async list(): Promise<SavedTarget[]> {
    return (await readJsonIfExists<SavedTarget[]>(this.file)) ?? [];
  }

  async withSecrets(): Promise<TargetWithSecret[]> {
    return Promise.all(
      (await this.list()).map(async ({ sealedSecret, ...target }) => ({
        ...target,
        secret: sealedSecret === null ? null : await this.state.open(sealedSecret),
      })),
    );
  }

  /** Saves a new target; `exists` says what to throw when the name is taken (checked under the lock). */
  add(target: TargetWithSecret, exists: () => Error): Promise<SavedTarget> {
    return this.change(async (targets) => {
      if (targets.some((saved) => saved.Name.toLowerCase() === target.Name.toLowerCase())) throw exists();
      const { secret, ...rest } = target;
      const saved: SavedTarget = {
        ...rest,
        sealedSecret: secret === null ? null : await this.state.seal(secret),
      };
      return { targets: [...targets, saved], result: saved };
    });
  }

  /** Removes a target by name; `missing` says what to throw when there is none. */
  remove(name: string, missing: () => Error): Promise<SavedTarget> {
    return this.change(async (targets) => {
      const found = targets.find((saved) => saved.Name.toLowerCase() === name.toLowerCase());
      if (!found) throw missing();
      return { targets: targets.filter((saved) => saved !== found), result: found };
    });
  }

  private change<T>(
    mutate: (targets: SavedTarget[]) => Promise<{ targets: SavedTarget[]; result: T }>,
  ): Promise<T> {
    const next = this.queue.then(async () => {
      const { targets, result } = await mutate(await this.list());
      await writeJsonAtomic(this.file, targets);
      return result;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}
