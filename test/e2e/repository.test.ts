/**
 * Format 4, the deduplicating repository, end to end: a daemon started with AZSBACKUP_FORMAT=4, a
 * Directory role and a Sqlite role, driven through the cmdlets in real pwsh. Seven backups with about
 * 1 % of the data changed between them take little more room than one (a small file among them
 * rewritten with its times kept, which the file cache must not take for unchanged); Get-AzsBackup
 * lists them as before; the newest restores exactly (Restore-AzsBackup) and `azsbackup extract`
 * reads it with only its folder and the .pfx. The same run on a local folder and on a real Samba
 * share.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { REPOSITORY_ROOT } from '../../src/repository/layout.js';
import { removeDir, startDaemon, tempDir } from '../helpers/daemon.js';
import { createDirectoryRoleData, PFX_PASSWORD } from '../helpers/deployment.js';
import { selfValidating } from '../helpers/fileChurn.js';
import { cliMain } from '../helpers/pwsh.js';
import { PwshSession, quote } from '../helpers/pwshSession.js';
import { describeTree, withoutTimes } from '../helpers/roleEntries.js';
import { SambaServer } from '../helpers/samba.js';
import { batchProblems, commitBatches, KEPT_BATCHES } from '../helpers/sqliteChurn.js';

const BACKUPS = 7;
/**
 * Incompressible files of the Directory role (24 MiB), one rewritten between two backups: with the
 * database's one transaction, about 1 % of the data. Smaller data would measure chunk sizes, not
 * deduplication: each spot that changes costs the chunks around it (below), whatever its own size.
 */
const FILES = 96;
const FILE_BYTES = 256 * 1024;
/**
 * Small files (under the walk's WHOLE_READ_LIMIT), which format 4 caches in groups: at each change one
 * is rewritten in place with as many bytes and the same modification time (NOTE_TIME), so that only
 * its change time tells that it changed (docs/format.md, "The file cache").
 */
const NOTES = 48;
const NOTE_BYTES = 2048;
/**
 * Room over 1.5 × the first backup: a changed spot costs the chunks that hold it, about an average
 * chunk (256 KiB, src/repository/chunker.ts) beyond its own bytes, and the database's one
 * transaction changes 13 to 16 of its pages at 6 or 7 places of its 3 MB (measured: page 1, the
 * free list, the batch it removes, the batch it adds, their index entries), about 1 to 1.4 MB a
 * backup where its rows changed by 1 %. Two average chunks a backup; index files and role lists
 * are a few KiB.
 */
const MARGIN_BYTES = (BACKUPS - 1) * 2 * 256 * 1024;

/** Where a store is: how Set-AzsBackupConfiguration names it, and the folder behind it on this machine. */
interface StoreUnderTest {
  configuration: string;
  folder: string;
  env?: Record<string, string>;
}

/** What the newest backup holds: the Directory role's tree and the database's rows. */
interface Expected {
  tree: ReturnType<typeof withoutTimes>;
  rows: string;
}

interface Listed {
  Name: string;
  BackupId: string;
  Status: string;
}

/** Bytes of every file under `folder`. */
function bytesUnder(folder: string): number {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .reduce((total, entry) => total + statSync(path.join(entry.parentPath, entry.name)).size, 0);
}

/** Bytes of the store's repository, once `backupId` proved to be a format 4 backup. */
function repositoryBytes(store: string, backupId: string): number {
  const manifest = JSON.parse(
    readFileSync(path.join(backupFolder(store, backupId), 'BackupInfo.json'), 'utf8'),
  );
  assert.equal(manifest.FormatVersion, 4, 'the daemon writes format 4');
  return bytesUnder(path.join(store, REPOSITORY_ROOT));
}

/** The database's rows, once it passed integrity_check. */
function batchRows(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    return JSON.stringify(db.prepare('SELECT id, batch, hex(payload) AS p FROM batches ORDER BY id').all());
  } finally {
    db.close();
  }
}

/** The folder of a backup (<store>/MASBackup/<time>/<id>). */
function backupFolder(store: string, backupId: string): string {
  const root = path.join(store, 'MASBackup');
  const stamp = readdirSync(root).find((name) => readdirSync(path.join(root, name)).includes(backupId));
  assert.ok(stamp, `no folder for backup ${backupId}`);
  return path.join(root, stamp, backupId);
}

interface RoleData {
  folder: string;
  database: string;
}

function writeDataFile(data: RoleData, index: number): void {
  writeFileSync(
    path.join(data.folder, 'files', `file-${index % FILES}.dat`),
    selfValidating(randomBytes(FILE_BYTES)),
  );
}

/** Every small file's modification and access time, whatever its content. */
const NOTE_TIME = new Date('2026-01-01T00:00:00Z');

function writeNote(data: RoleData, index: number): void {
  const note = path.join(data.folder, 'notes', `note-${index % NOTES}.txt`);
  writeFileSync(note, randomBytes(NOTE_BYTES / 2).toString('hex'));
  utimesSync(note, NOTE_TIME, NOTE_TIME);
}

/**
 * About 1 % of the data: one file rewritten, one small file rewritten (same size, same times), one
 * batch of KEPT_BATCHES in and one out of the database.
 */
function change(data: RoleData, round: number): void {
  writeDataFile(data, round);
  writeNote(data, round * 7);
  commitBatches(data.database, 1);
}

interface Deployment extends RoleData {
  work: string;
  pfx: string;
}

const PFX_PASSWORD_ARGUMENT = '(ConvertTo-SecureString $env:AZS_PFX_PASSWORD -AsPlainText -Force)';

/**
 * The roles' data: the Directory role's tree with FILES more files and NOTES small ones, a database
 * of KEPT_BATCHES batches.
 */
function createData(): Deployment {
  const work = tempDir('repository');
  const deployment = {
    work,
    folder: path.join(work, 'CA'),
    database: path.join(work, 'WAS.db'),
    pfx: path.join(work, 'backup.pfx'),
  };
  mkdirSync(path.join(deployment.folder, 'files'), { recursive: true });
  mkdirSync(path.join(deployment.folder, 'notes'));
  createDirectoryRoleData(deployment.folder);
  for (let index = 0; index < FILES; index += 1) writeDataFile(deployment, index);
  for (let index = 0; index < NOTES; index += 1) writeNote(deployment, index);
  commitBatches(deployment.database, KEPT_BATCHES);
  return deployment;
}

async function configure(shell: PwshSession, store: StoreUnderTest, deployment: Deployment): Promise<void> {
  await shell.run(`$cert = New-AzsBackupEncryptionCertificate -CerPath ${quote(path.join(deployment.work, 'backup.cer'))} -PfxPath ${quote(deployment.pfx)} -PfxPassword ${PFX_PASSWORD_ARGUMENT}
    $null = Set-AzsBackupConfiguration ${store.configuration} -EncryptionCertPath $cert.CerPath
    $null = Register-AzsInfrastructureRole -Name CA -Provider Directory -Path ${quote(deployment.folder)}
    $null = Register-AzsInfrastructureRole -Name WAS -Provider Sqlite -Path ${quote(deployment.database)}`);
}

/** BACKUPS backups with Start-AzsBackup, the data changed before each but the first; the repository's size after the first. */
async function backUp(
  shell: PwshSession,
  store: StoreUnderTest,
  deployment: Deployment,
): Promise<{ ids: string[]; firstBytes: number }> {
  const ids: string[] = [];
  let firstBytes = 0;
  for (let round = 0; round < BACKUPS; round += 1) {
    if (round > 0) change(deployment, round);
    const backup: { BackupId: string; Status: string } = await shell.runJson(
      'Start-AzsBackup -Force | Select-Object BackupId, Status | ConvertTo-Json -Compress',
    );
    assert.equal(backup.Status, 'Succeeded', `backup ${round + 1}`);
    ids.push(backup.BackupId);
    if (round === 0) firstBytes = repositoryBytes(store.folder, backup.BackupId);
  }
  return { ids, firstBytes };
}

async function assertListed(shell: PwshSession, ids: string[]): Promise<void> {
  const listed = await shell.runJson<Listed[]>(
    'ConvertTo-Json -Compress -InputObject @(Get-AzsBackup | Select-Object Name, BackupId, Status)',
  );
  assert.deepEqual(listed.map((backup) => backup.BackupId).sort(), [...ids].sort());
  for (const backup of listed) {
    assert.equal(backup.Name, `local/${backup.BackupId}`);
    assert.equal(backup.Status, 'Succeeded');
  }
}

/** The data moves on (a file rewritten, one removed, the database changed); Restore-AzsBackup brings `backupId` back. */
async function assertRestores(
  shell: PwshSession,
  deployment: Deployment,
  backupId: string,
  expected: Expected,
): Promise<void> {
  change(deployment, 0);
  rmSync(path.join(deployment.folder, 'files', `file-${FILES - 1}.dat`));
  commitBatches(deployment.database, 3);
  const restored = await shell.run(
    `Restore-AzsBackup -Name ${quote(backupId)} -DecryptionCertPath ${quote(deployment.pfx)} -DecryptionCertPassword ${PFX_PASSWORD_ARGUMENT} -Force -PassThru`,
  );
  assert.equal(restored, 'True');
  assert.deepEqual(withoutTimes(await describeTree(deployment.folder)), expected.tree);
  assert.equal(batchRows(deployment.database), expected.rows);
  assert.deepEqual(batchProblems(deployment.database), []);
}

/** `azsbackup extract` with the backup's folder (where it is in the store) and the .pfx gives the same. */
async function assertExtracts(
  store: StoreUnderTest,
  deployment: Deployment,
  backupId: string,
  expected: Expected,
): Promise<void> {
  const out = path.join(deployment.work, 'extracted');
  const extract = spawnSync(
    process.execPath,
    [
      cliMain,
      'extract',
      '--backup',
      backupFolder(store.folder, backupId),
      '--pfx',
      deployment.pfx,
      '--out',
      out,
    ],
    { env: { ...process.env, AZSBACKUP_PFX_PASSWORD: PFX_PASSWORD }, encoding: 'utf8' },
  );
  assert.equal(extract.status, 0, extract.stderr);
  assert.deepEqual(withoutTimes(await describeTree(path.join(out, 'CA'))), expected.tree);
  assert.equal(batchRows(path.join(out, 'WAS', 'WAS.db')), expected.rows);
}

async function sevenBackupsRoundTrip(store: StoreUnderTest): Promise<void> {
  const deployment = createData();
  const daemon = startDaemon({ env: { AZSBACKUP_FORMAT: '4' } });
  let shell: PwshSession | undefined;
  try {
    shell = await PwshSession.start({
      AZSBACKUP_HOME: daemon.stateDir,
      AZS_PFX_PASSWORD: PFX_PASSWORD,
      ...store.env,
    });
    await configure(shell, store, deployment);
    const { ids, firstBytes } = await backUp(shell, store, deployment);
    await assertListed(shell, ids);
    const sevenBytes = repositoryBytes(store.folder, ids.at(-1)!);
    assert.ok(
      sevenBytes <= 1.5 * firstBytes + MARGIN_BYTES,
      `${BACKUPS} backups take ${sevenBytes} bytes, the first ${firstBytes}`,
    );
    const expected = {
      tree: withoutTimes(await describeTree(deployment.folder)),
      rows: batchRows(deployment.database),
    };
    await assertRestores(shell, deployment, ids.at(-1)!, expected);
    await assertExtracts(store, deployment, ids.at(-1)!, expected);
  } finally {
    await shell?.dispose();
    daemon.stop();
    [daemon.stateDir, deployment.work].forEach(removeDir);
  }
}

test('format 4 on a local folder: seven backups in little more than one, the newest restored and extracted', async () => {
  const folder = tempDir('repository-store');
  try {
    await sevenBackupsRoundTrip({ configuration: `-Path ${quote(folder)}`, folder });
  } finally {
    removeDir(folder);
  }
});

test('format 4 on a Samba share: seven backups in little more than one, the newest restored and extracted', async () => {
  const server = await SambaServer.start();
  try {
    const folder = path.join(server.sharePath('backup'), 'east');
    mkdirSync(folder);
    spawnSync('chmod', ['-R', 'a+rwX', server.sharePath('backup')]);
    await sevenBackupsRoundTrip({
      configuration: `-Path ${quote(server.uncPath('backup', 'east'))} -UserName $env:AZS_SHARE_USER -Password (ConvertTo-SecureString $env:AZS_SHARE_PASSWORD -AsPlainText -Force)`,
      folder,
      env: { AZS_SHARE_USER: server.user, AZS_SHARE_PASSWORD: server.password },
    });
  } finally {
    await server.dispose();
  }
});
