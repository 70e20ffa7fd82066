/**
 * What every reliability scenario shares: the tally that becomes a row of the table, the clean-up
 * stack that runs even when a scenario fails, and the checks that say whether a committed backup is
 * still whole — verified by the daemon with the .pfx and extracted byte for byte by `azsbackup extract`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { TestDaemon } from '../../test/helpers/daemon.js';
import { removeDir, startDaemon, tempDir } from '../../test/helpers/daemon.js';
import { createDeployment, PFX_PASSWORD, type Deployment } from '../../test/helpers/deployment.js';
import { cliMain, repoRoot } from '../../test/helpers/pwsh.js';
import { describeTree, withoutTimes } from '../../test/helpers/roleEntries.js';

export interface SuiteOptions {
  short: boolean;
  log(text: string): void;
}

/** One row of the table, and the problems behind any non-zero figure. */
export class Tally {
  runs = 0;
  injected = 0;
  committed = 0;
  verified = 0;
  lost = 0;
  leaked = 0;
  readonly problems: string[] = [];
  /** Findings that do not fail the scenario but belong in the report (gaps, leftovers). */
  readonly notes: string[] = [];

  constructor(readonly scenario: string) {}

  note(what: string): void {
    if (!this.notes.includes(what)) this.notes.push(what);
  }

  /** Data that a committed backup or a restore should have kept and did not. */
  lose(what: string): void {
    this.lost += 1;
    this.problems.push(`LOST: ${what}`);
  }

  /** A secret, a file or an access that got out where it must not. */
  leak(what: string): void {
    this.leaked += 1;
    this.problems.push(`LEAKED: ${what}`);
  }

  /** Any other expectation that failed (wrong alert, daemon down, ...): the scenario errored. */
  fail(what: string): void {
    this.problems.push(what);
  }

  check(condition: boolean, what: string): boolean {
    if (!condition) this.fail(what);
    return condition;
  }
}

/** Every clean-up stack not yet run, so that an interrupted suite (SIGINT, SIGTERM) can still run them. */
const pending = new Set<Cleanup>();

/** Clean-up actions run last-in first-out; each runs even if an earlier one throws. */
export class Cleanup {
  private readonly actions: Array<() => unknown> = [];

  constructor() {
    pending.add(this);
  }

  add(action: () => unknown): void {
    this.actions.push(action);
  }

  async run(): Promise<void> {
    pending.delete(this);
    while (this.actions.length) {
      try {
        await this.actions.pop()!();
      } catch {
        // keep cleaning: one failed clean-up must not leave the rest behind
      }
    }
  }
}

/** Runs every clean-up stack still pending (the suite was interrupted). */
export async function cleanUpEverything(): Promise<void> {
  for (const cleanup of [...pending]) await cleanup.run();
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects when `promise` takes longer than `ms`: a hung daemon must fail the scenario, not hang it. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A folder tree's content, modes and links as one digest (times are not compared: see roleEntries). */
export async function treeDigest(folder: string): Promise<string> {
  return sha256(JSON.stringify(withoutTimes(await describeTree(folder))));
}

/** A SQLite database's rows as one digest, after its own integrity check; null when the check fails. */
export function databaseDigest(file: string): string | null {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    if (db.pragma('integrity_check', { simple: true }) !== 'ok') return null;
    const hash = createHash('sha256');
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all() as Array<{ name: string }>;
    for (const { name } of tables) {
      hash.update(`table ${name}\n`);
      for (const row of db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).iterate()) {
        hash.update(
          JSON.stringify(row, (_key, value) => (Buffer.isBuffer(value) ? value.toString('hex') : value)),
        );
      }
    }
    return hash.digest('hex');
  } finally {
    db.close();
  }
}

/** The folder of a backup on a store that is a folder on this machine (a local store, or a share's path). */
export function backupFolderOnDisk(storeFolder: string, backupId: string): string | null {
  const root = path.join(storeFolder, 'MASBackup');
  if (!existsSync(root)) return null;
  for (const stamp of readdirSync(root)) {
    const candidate = path.join(root, stamp, backupId);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** `azsbackup extract` of one backup folder: the independent reader, needing only the folder and the .pfx. */
export function extract(folder: string, pfx: string, out: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [cliMain, 'extract', '--backup', folder, '--pfx', pfx, '--out', out],
      {
        env: { ...process.env, AZSBACKUP_PFX_PASSWORD: PFX_PASSWORD },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

/** How a role's data is compared: a digest of the live data, and of what extract wrote for it. */
export interface RoleCheck {
  name: string;
  live(): Promise<string | null>;
  extracted(out: string): Promise<string | null>;
}

export function directoryRole(name: string, folder: string): RoleCheck {
  return {
    name,
    live: () => treeDigest(folder),
    extracted: async (out) => (existsSync(path.join(out, name)) ? treeDigest(path.join(out, name)) : null),
  };
}

export function sqliteRole(name: string, file: string): RoleCheck {
  return {
    name,
    live: async () => databaseDigest(file),
    extracted: async (out) => {
      const copy = path.join(out, name, path.basename(file));
      return existsSync(copy) ? databaseDigest(copy) : null;
    },
  };
}

/** A committed backup and the digests of the data it was taken from. */
export interface Committed {
  backupId: string;
  created: string;
  ready: boolean;
  digests: Record<string, string | null>;
}

export async function digestsOf(roles: RoleCheck[]): Promise<Record<string, string | null>> {
  const digests: Record<string, string | null> = {};
  for (const role of roles) digests[role.name] = await role.live();
  return digests;
}

export interface VerifyTarget {
  daemon: TestDaemon;
  pfxPath: string;
  /** The store's folder on this machine (for an SMB store, the share's folder). */
  storeFolder: string;
  roles: RoleCheck[];
}

/**
 * Whether a committed backup is whole: Test-AzsBackup with the .pfx passes for every role, and
 * `azsbackup extract` gives back data equal to what the backup was taken from. Returns the problem,
 * or null when the backup is whole.
 */
export async function verifyCommitted(target: VerifyTarget, backup: Committed): Promise<string | null> {
  const tested = await within(
    target.daemon.call('backup.test', {
      Name: backup.backupId,
      DecryptionCertPath: target.pfxPath,
      DecryptionCertPassword: PFX_PASSWORD,
    }),
    120_000,
    'backup.test',
  ).catch((error: Error) => ({ error }));
  if ('error' in tested) return `backup ${backup.backupId}: backup.test failed: ${tested.error.message}`;
  const failed = tested.results.filter((result) => result.Status !== 'Succeeded');
  if (failed.length || !tested.results.length)
    return `backup ${backup.backupId}: backup.test ${JSON.stringify(failed)}`;
  return extractedMatches(target, backup);
}

async function extractedMatches(target: VerifyTarget, backup: Committed): Promise<string | null> {
  const folder = backupFolderOnDisk(target.storeFolder, backup.backupId);
  if (!folder) return `backup ${backup.backupId}: its folder is gone from the store`;
  const out = tempDir('rel-extract');
  try {
    const result = await extract(folder, target.pfxPath, out);
    if (result.code !== 0) return `backup ${backup.backupId}: extract failed: ${result.stderr.trim()}`;
    for (const role of target.roles) {
      if (!(role.name in backup.digests)) continue;
      const got = await role.extracted(out);
      if (got !== backup.digests[role.name])
        return `backup ${backup.backupId}: role ${role.name} extracted differs from the data backed up`;
    }
    return null;
  } finally {
    removeDir(out);
  }
}

/** Every backup the daemon lists, by id. */
export async function listedIds(daemon: TestDaemon): Promise<string[]> {
  const { backups } = await within(daemon.call('backup.list', {}), 60_000, 'backup.list');
  return backups.filter((backup) => backup.Status !== 'Running').map((backup) => backup.BackupId);
}

export function residentMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

export function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Every file below `root` (not following links), for scans. */
export function filesBelow(root: string): string[] {
  if (!existsSync(root)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) found.push(...filesBelow(full));
    else if (entry.isFile()) found.push(full);
  }
  return found;
}

export function sizeOf(file: string): number {
  return statSync(file).size;
}

export function random(min: number, max: number): number {
  return min + Math.random() * (max - min);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A certificate and a local-folder store under `root`, configured on the daemon; no roles yet. */
export async function configureLocalStore(
  daemon: TestDaemon,
  root: string,
): Promise<{ store: string; cerPath: string; pfxPath: string }> {
  const paths = {
    store: path.join(root, 'store'),
    cerPath: path.join(root, 'backup.cer'),
    pfxPath: path.join(root, 'backup.pfx'),
  };
  mkdirSync(paths.store, { recursive: true });
  await daemon.call('certificate.new', {
    Subject: 'CN=AzureStackBackup Reliability',
    CerPath: paths.cerPath,
    PfxPath: paths.pfxPath,
    PfxPassword: PFX_PASSWORD,
    ValidityYears: 1,
  });
  await daemon.call('config.set', { Path: paths.store, EncryptionCertPath: paths.cerPath });
  return paths;
}

/** A node script of this repository's dist/ in a child process that holds none of our stdio but stdout. */
export function startHelper(script: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'dist', script), ...args], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before it was ready`)));
    child.stdout!.once('data', () => resolve(child));
  });
}

/** A daemon with a test deployment, both removed by `cleanup` when the scenario ends. */
export async function startDeployment(
  cleanup: Cleanup,
  options: { testHooks?: boolean; env?: Record<string, string> } = {},
): Promise<{ daemon: TestDaemon; deployment: Deployment }> {
  const daemon = startDaemon(options);
  cleanup.add(() => removeDir(daemon.stateDir));
  cleanup.add(() => daemon.stop());
  const deployment = await createDeployment(daemon);
  cleanup.add(() => removeDir(deployment.root));
  return { daemon, deployment };
}
