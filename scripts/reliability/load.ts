/**
 * Scenario 3, data under load: backups taken while SQLite writers insert at full speed (one database
 * in WAL mode, one in rollback-journal mode; each transaction a whole batch of rows) and while a directory's files are created, rewritten
 * and deleted. Every backup must restore (azsbackup extract) to data that passes each provider's own
 * consistency check: `PRAGMA integrity_check` = ok and only whole batches, and every restored file whole — the old or the
 * new version, never torn (the churned files carry their own length and SHA-256).
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { removeDir, startDaemon, tempDir } from '../../test/helpers/daemon.js';
import { validateFile } from '../../test/helpers/fileChurn.js';
import { batchProblems } from '../../test/helpers/sqliteChurn.js';
import {
  backupFolderOnDisk,
  Cleanup,
  configureLocalStore,
  errorMessage,
  extract,
  filesBelow,
  startHelper,
  Tally,
  within,
  type SuiteOptions,
} from './common.js';

const CHURNED_FILES = 300;
const DATABASES = [
  { role: 'LoadWal', file: 'wal.db', journal: 'wal' },
  { role: 'LoadJournal', file: 'journal.db', journal: 'delete' },
];

function integrity(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}

/** What is wrong with one extracted backup, by provider check; empty when all is consistent. */
function extractedProblems(out: string): string[] {
  const problems: string[] = [];
  const churned = filesBelow(path.join(out, 'Churn'));
  if (churned.length === 0) problems.push('the churned folder came back empty');
  for (const file of churned) {
    const problem = validateFile(file);
    if (problem) problems.push(`${path.relative(out, file)} is torn: ${problem}`);
  }
  for (const { role, file } of DATABASES) {
    const copy = path.join(out, role, file);
    const result = integrity(copy);
    if (result !== 'ok') problems.push(`${role}: integrity_check says ${result}`);
    else problems.push(...batchProblems(copy).map((problem) => `${role}: ${problem}`));
  }
  return problems;
}

/** The manifest says, per role, which files changed while they were copied (issue 8, item 3). */
function checkChangedFiles(tally: Tally, folder: string): void {
  const manifest = JSON.parse(readFileSync(path.join(folder, 'BackupInfo.json'), 'utf8')) as {
    Roles: Array<{ Registration: { Name: string }; ChangedDuringCopy?: unknown }>;
  };
  for (const role of manifest.Roles) {
    if (!Array.isArray(role.ChangedDuringCopy))
      tally.fail(
        `the manifest does not say which files of ${role.Registration.Name} changed during the copy`,
      );
  }
}

export async function dataUnderLoad(options: SuiteOptions): Promise<Tally> {
  const tally = new Tally('3. data under load');
  const cleanup = new Cleanup();
  const backups = options.short ? 5 : 12;
  try {
    const daemon = startDaemon();
    cleanup.add(() => removeDir(daemon.stateDir));
    cleanup.add(() => daemon.stop());
    const root = tempDir('rel-load');
    cleanup.add(() => removeDir(root));
    const { store, pfxPath } = await configureLocalStore(daemon, root);
    const writers: ChildProcess[] = [];
    cleanup.add(() => writers.forEach((writer) => writer.kill('SIGKILL')));
    const churned = path.join(root, 'data', 'Churn');
    writers.push(
      await startHelper('test/helpers/fileChurn.js', [
        churned,
        path.join(root, 'data', 'staging'),
        String(CHURNED_FILES),
      ]),
    );
    await daemon.call('role.register', { Name: 'Churn', Provider: 'Directory', Path: churned });
    for (const { role, file, journal } of DATABASES) {
      const database = path.join(root, 'data', file);
      writers.push(await startHelper('test/helpers/sqliteChurn.js', [database, journal]));
      await daemon.call('role.register', { Name: role, Provider: 'Sqlite', Path: database });
    }
    for (let run = 0; run < backups; run += 1) {
      tally.runs += 1;
      tally.injected += writers.length;
      const backup = await within(daemon.call('backup.start', { Wait: true }), 300_000, 'backup');
      if (
        !tally.check(
          backup.Status === 'Succeeded',
          `backup under load ended ${backup.Status}: ${JSON.stringify(backup.RoleStatus)}`,
        )
      )
        continue;
      tally.committed += 1;
      checkChangedFiles(tally, backupFolderOnDisk(store, backup.BackupId)!);
      const out = tempDir('rel-load-extract');
      try {
        const result = await extract(backupFolderOnDisk(store, backup.BackupId)!, pfxPath, out);
        const problems =
          result.code === 0 ? extractedProblems(out) : [`extract failed: ${result.stderr.trim()}`];
        problems.forEach((problem) => tally.lose(`backup ${backup.BackupId}: ${problem}`));
        if (!problems.length) tally.verified += 1;
      } finally {
        removeDir(out);
      }
      options.log(
        `load: backup ${run + 1}/${backups} (${backup.TimeTakenToCreate}, ${Math.round(backup.BackupSizeInKb / 1024)} MiB) restored consistent`,
      );
    }
  } catch (error) {
    tally.fail(`scenario stopped: ${errorMessage(error)}`);
  } finally {
    await cleanup.run();
  }
  return tally;
}
