/**
 * ledger.json: one record per manifest this deployment's daemon wrote — the backup's id, folder,
 * time and the SHA-256 of the exact manifest bytes. The certificate is public, so anyone can write a
 * complete, valid backup to the store; the ledger, kept where no share writer can reach it, is what
 * tells this deployment's backups from any other (docs/security.md, "The manifest MAC and the ledger").
 * Records of backups that retention deletes are removed with them, so a record whose backup is gone
 * from the store names a backup someone else deleted.
 */
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import type { StateDir } from './stateDir.js';

export interface LedgerRecord {
  BackupId: string;
  /** The backup's folder relative to the store root: MASBackup/<yyyyMMddTHHmmssZ>/<BackupId>. */
  Folder: string;
  CreatedDateTime: string;
  /** SHA-256 of the manifest file's bytes as written, lower-case hex. */
  ManifestSha256: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export class ManifestLedger {
  /** Writes run one after another, so that two updates never lose each other's record. */
  private pending: Promise<unknown> = Promise.resolve();

  constructor(private readonly state: StateDir) {}

  /** The records by BackupId. A missing ledger is an empty one; a damaged one is an error. */
  async read(): Promise<Map<string, LedgerRecord>> {
    const saved = await readJsonIfExists<unknown>(this.state.ledgerFile).catch((error: unknown) => {
      if (error instanceof SyntaxError) return null;
      throw error;
    });
    if (saved === undefined) return new Map();
    // Failing is safer than reading it as empty: retention keeps the newest known backup.
    if (!Array.isArray(saved) || !saved.every(isRecord))
      throw new Error(
        `${this.state.ledgerFile} is damaged: it is not a ledger of backup manifests. Move it aside to go on; every backup on the store then counts as not known to this deployment until the next backup`,
      );
    return new Map(saved.map((record) => [record.BackupId, record]));
  }

  record(entry: LedgerRecord): Promise<void> {
    return this.update((records) => records.set(entry.BackupId, entry));
  }

  forget(backupIds: string[]): Promise<void> {
    return this.update((records) => backupIds.forEach((backupId) => records.delete(backupId)));
  }

  /** True when the manifest read now is byte for byte the one this deployment wrote in that folder. */
  static matches(record: LedgerRecord | undefined, folder: string, manifestSha256: string): boolean {
    return record !== undefined && record.Folder === folder && record.ManifestSha256 === manifestSha256;
  }

  private update(change: (records: Map<string, LedgerRecord>) => void): Promise<void> {
    const next = this.pending.then(async () => {
      const records = await this.read();
      change(records);
      await writeJsonAtomic(this.state.ledgerFile, [...records.values()]);
    });
    this.pending = next.catch(() => undefined);
    return next;
  }
}

function isRecord(value: unknown): value is LedgerRecord {
  const record = value as Partial<LedgerRecord> | null;
  return (
    typeof record === 'object' &&
    record !== null &&
    typeof record.BackupId === 'string' &&
    typeof record.Folder === 'string' &&
    typeof record.CreatedDateTime === 'string' &&
    typeof record.ManifestSha256 === 'string' &&
    SHA256_HEX.test(record.ManifestSha256)
  );
}
