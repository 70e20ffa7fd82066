/**
 * Rolling verification of the repository (format 4): after each scheduled backup that stored its
 * manifest, a slice of the packs the backups on the store list is read back and checked against the
 * SHA-256 its name says (readPack: no key needed). A damaged or missing pack opens the PackDamaged
 * alert, naming every backup whose manifest lists it.
 *
 * The slice rule: N = the scheduled backups in one retention period, floor(retention days × 24 /
 * frequency hours), at least 1. Each run reads ceil(P / N) of the P packs listed, in the order of
 * their epoch and name, starting after the last one the previous run read (the cursor, kept in
 * verification.json) and wrapping round: N runs read every pack, so a pack is read again within each
 * retention period. A pack stored behind the cursor waits for the next round.
 *
 * Packs found damaged are read again at every run, besides the slice: the alert closes when every
 * one of them reads whole again or no backup on the store lists it any more. A store failure while
 * reading is not damage: it is logged and the run ends there (the cursor stays at the last pack read).
 */
import { isAzsError } from '../protocol/errors.js';
import { readPack } from '../repository/reader.js';
import { Successions, readRepackRecords } from '../repository/repacks.js';
import type { SavedConfig, StateDir } from '../state/stateDir.js';
import type { BackupStore } from '../storage/store.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import type { Logger } from '../util/log.js';
import type { AlertService } from './alerts.js';
import type { BackupCatalog, StoredBackup } from './catalog.js';

/** A pack as the verification names it: `<epoch>/<sha256>`, which sorts by epoch, then name. */
type PackKey = string;

/** What verification.json holds between runs. */
export interface VerificationState {
  /** The last pack of the slice the previous run read; null before the first run. */
  Cursor: PackKey | null;
  /** The packs found damaged and not yet found whole again, each with what was wrong. */
  Damaged: { Pack: PackKey; Problem: string }[];
}

export interface PackVerifierDeps {
  state: StateDir;
  log: Logger;
  alerts: AlertService;
  catalog: BackupCatalog;
}

/** The scheduled backups in one retention period: the runs in which every pack is read once. */
export function runsPerRetention(
  config: Pick<SavedConfig, 'backupFrequencyInHours' | 'backupRetentionPeriodInDays'>,
): number {
  return Math.max(1, Math.floor((config.backupRetentionPeriodInDays * 24) / config.backupFrequencyInHours));
}

/** The packs one run reads: ceil(packs / runs) of the sorted `packs`, from the first after `cursor`, wrapping round. */
export function sliceAfter(packs: readonly PackKey[], cursor: PackKey | null, runs: number): PackKey[] {
  const size = Math.ceil(packs.length / runs);
  const next = cursor === null ? 0 : packs.findIndex((pack) => pack > cursor);
  const start = next < 0 ? 0 : next;
  return Array.from({ length: size }, (_, offset) => packs[(start + offset) % packs.length]!);
}

/**
 * Every pack the backups on the store list, with the Names of the backups that list it; a pack a
 * repack replaced (repacks.ts, records read without the key) as the packs its blobs went to.
 */
async function packUsers(store: BackupStore, backups: StoredBackup[]): Promise<Map<PackKey, string[]>> {
  const users = new Map<PackKey, string[]>();
  const successions = new Map<string, Successions>();
  for (const { manifest } of backups) {
    const epoch = manifest.Encryption.Epoch;
    if (!epoch) continue;
    if (!successions.has(epoch))
      successions.set(epoch, new Successions((await readRepackRecords(store, epoch)).records));
    const moves = successions.get(epoch)!;
    const listed = manifest.Roles.flatMap((role) => role.Content?.Packs ?? []);
    for (const pack of moves.reach(listed)) {
      if (moves.isReplaced(pack)) continue;
      const key = `${epoch}/${pack}`;
      users.set(key, [...(users.get(key) ?? []), manifest.Name]);
    }
  }
  return users;
}

/** The packs of `epoch` verification last found damaged: a backup stores their chunks anew. */
export async function damagedPacks(state: StateDir, epoch: string): Promise<Set<string>> {
  const { Damaged } = await readState(state);
  return new Set(
    Damaged.filter(({ Pack }) => Pack.startsWith(`${epoch}/`)).map(({ Pack }) =>
      Pack.slice(epoch.length + 1),
    ),
  );
}

async function readState(state: StateDir): Promise<VerificationState> {
  const saved = await readJsonIfExists<VerificationState>(state.verificationFile).catch(() => undefined);
  return { Cursor: saved?.Cursor ?? null, Damaged: saved?.Damaged ?? [] };
}

export class PackVerifier {
  constructor(private readonly deps: PackVerifierDeps) {}

  /** One run over `store`: the packs found damaged before, then this run's slice. */
  async verify(store: BackupStore): Promise<void> {
    const { log, catalog } = this.deps;
    let users: Map<PackKey, string[]>;
    try {
      users = await packUsers(store, await catalog.list(store));
    } catch (error) {
      log.warn('pack verification skipped: the backups cannot be listed', { error: messageOf(error) });
      return;
    }
    const before = await readState(this.deps.state);
    // Format 2 and 3 backups have no packs: nothing to read, nothing to write.
    if (!users.size && !before.Damaged.length) return;
    const stillListed = before.Damaged.filter((damaged) => users.has(damaged.Pack));
    const runs = runsPerRetention(await this.deps.state.readConfig());
    const slice = sliceAfter([...users.keys()].sort(), before.Cursor, runs);
    const found = new Map<PackKey, string | null>();
    let cursor = before.Cursor;
    for (const pack of [...stillListed.map((damaged) => damaged.Pack), ...slice]) {
      if (!found.has(pack)) {
        const problem = await this.check(store, pack);
        if (problem === undefined) break;
        found.set(pack, problem);
      }
      if (slice.includes(pack)) cursor = pack;
    }
    const damaged = [
      ...stillListed.filter((old) => !found.has(old.Pack)),
      ...[...found].flatMap(([pack, problem]) =>
        problem === null ? [] : [{ Pack: pack, Problem: problem }],
      ),
    ];
    await writeJsonAtomic(this.deps.state.verificationFile, { Cursor: cursor, Damaged: damaged });
    log.info('packs verified', { read: found.size, damaged: damaged.length });
    await this.alert(damaged, users);
  }

  /** null: whole; the problem when damaged or missing; undefined when the store failed. */
  private async check(store: BackupStore, pack: PackKey): Promise<string | null | undefined> {
    const [epoch, name] = pack.split('/') as [string, string];
    try {
      await readPack(store, epoch, name);
      return null;
    } catch (error) {
      if (isAzsError(error, 'BackupCorrupt')) return error.message;
      this.deps.log.warn('pack verification stopped: the store failed', { pack, error: messageOf(error) });
      return undefined;
    }
  }

  private async alert(damaged: VerificationState['Damaged'], users: Map<PackKey, string[]>): Promise<void> {
    if (!damaged.length) return this.deps.alerts.close(['PackDamaged']);
    const lines = damaged.map(
      ({ Pack, Problem }) => `${Problem}; backups that list it: ${(users.get(Pack) ?? []).join(', ')}.`,
    );
    const affected = new Set(damaged.flatMap(({ Pack }) => users.get(Pack) ?? []));
    await this.deps.alerts.raise(
      'PackDamaged',
      `Rolling verification found ${damaged.length} damaged or missing pack(s) in the repository; ${affected.size} backup(s) cannot be restored in full: ${[...affected].join(', ')}. ${lines.join(' ')}`,
    );
  }
}

function messageOf(error: unknown): string {
  return String((error as Error)?.message ?? error);
}
