/**
 * Infrastructure-role providers: each knows how to take a consistent snapshot of one kind of data
 * source as a sequence of archive entries, and how to put such a snapshot back.
 */
import type { ArchiveEntry, ExtractedEntry } from '../archive/entry.js';

export type ProviderName = 'Directory' | 'Sqlite' | 'PowerShell';

/** A role as registered with the engine and recorded in every backup's manifest. */
export interface RoleRegistration {
  Name: string;
  Provider: ProviderName;
  /** The folder (Directory), database file (Sqlite), or nothing (PowerShell). */
  Path: string | null;
  BackupScript: string | null;
  RestoreScript: string | null;
  RegisteredTime: string;
}

export interface RoleContext {
  /** A private, empty folder the provider may use for staging; removed by the engine afterwards. */
  stagingDir: string;
  signal: AbortSignal;
  /**
   * Backing up: whether a file may be listed and opened only when its content is wanted
   * (ArchiveEntry.open), for a consumer that caches what it stored (format 4). Otherwise every file
   * is opened as it is listed, which costs less.
   */
  listSmallFiles?: boolean;
}

/** What a restore has to tell beyond success: the role's data is in place, but an operator should look. */
export interface RestoreResult {
  /** Each a sentence that names the path concerned and what to do about it. */
  warnings: string[];
  /**
   * Removes the previous data, renamed aside once the new data was in place (swap.ts); left to the
   * caller to start (the engine starts it once the job has reported its outcome). Never rejects;
   * resolves to more warnings like the above. Not started, the next restore of the role removes it.
   */
  removePreviousData?: () => Promise<string[]>;
}

export interface RoleProvider {
  readonly name: ProviderName;
  /** Checks a registration before it is saved (path exists, scripts parse …); throws AzsError. */
  validate(role: RoleRegistration): Promise<void>;
  /**
   * Why a snapshot of this role can hold nothing, and where to look (e.g. "the folder … is empty"),
   * for the warning on a role that stored no entries; a provider whose snapshot is never empty has none.
   */
  whyEmpty?(role: RoleRegistration): string;
  /**
   * Where restore swaps the role's data in (write beside, then swap, roles/swap.ts), for providers
   * that do: the daemon's start removes previous data a stopped restore left beside it.
   */
  restoreTarget?(role: RoleRegistration): string;
  /** The role's data as entries. Must be consistent: a snapshot of one moment as far as the source allows. */
  snapshot(role: RoleRegistration, context: RoleContext): AsyncIterable<ArchiveEntry>;
  /**
   * Puts a verified snapshot back in place of the role's current data, atomically where the source
   * allows (write beside, then swap), so a failure leaves either the old data or the new, never a mix.
   */
  restore(
    role: RoleRegistration,
    entries: AsyncIterable<ExtractedEntry>,
    context: RoleContext,
  ): Promise<RestoreResult>;
}
