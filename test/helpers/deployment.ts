/**
 * A small but complete test deployment: a Directory role with every kind of entry, a SQLite role,
 * a PowerShell role, a real certificate, and a local-folder store, configured on a test daemon.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { before, after } from 'node:test';
import { removeDir, startDaemon, tempDir, type TestDaemon } from './daemon.js';

export const PFX_PASSWORD = 'Test-Pfx-Password-1!';

export interface Deployment {
  root: string;
  store: string;
  cerPath: string;
  pfxPath: string;
  folder: string;
  database: string;
  scripted: string;
}

/** A folder tree with empty files and folders, unicode and long names, a symlink, odd modes. */
export function createDirectoryRoleData(folder: string): void {
  mkdirSync(path.join(folder, 'nested', 'deeper'), { recursive: true });
  mkdirSync(path.join(folder, 'empty-folder'));
  writeFileSync(path.join(folder, 'empty-file'), '');
  writeFileSync(
    path.join(folder, 'nested', 'config.json'),
    JSON.stringify({ endpoint: 'https://adminmanagement.local', retries: 3 }),
  );
  writeFileSync(path.join(folder, 'nested', 'deeper', 'secret.bin'), randomBytes(300_000), { mode: 0o600 });
  writeFileSync(path.join(folder, 'ünïcødé-名前.txt'), 'unicode name\n');
  const long = path.join(
    folder,
    ...Array.from({ length: 6 }, (_, index) => `${'long-segment-'.repeat(8)}${index}`),
  );
  mkdirSync(long, { recursive: true });
  writeFileSync(path.join(long, `${'f'.repeat(200)}.txt`), 'deep\n');
  writeFileSync(path.join(folder, 'big-compressible.log'), 'INFO request served\n'.repeat(200_000));
  symlinkSync('nested/config.json', path.join(folder, 'link-to-config'));
  utimesSync(
    path.join(folder, 'empty-file'),
    new Date('2020-01-02T03:04:05Z'),
    new Date('2020-01-02T03:04:05Z'),
  );
}

export function createDatabase(file: string, rows: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE subscriptions (id INTEGER PRIMARY KEY, owner TEXT, payload BLOB)');
  const insert = db.prepare('INSERT INTO subscriptions (owner, payload) VALUES (?, randomblob(200))');
  db.transaction(() => {
    for (let row = 0; row < rows; row += 1) insert.run(`tenant${row}@contoso.com`);
  })();
  db.close();
}

export async function createDeployment(
  daemon: TestDaemon,
  options: { scriptThrows?: boolean; scriptSleepSeconds?: number } = {},
): Promise<Deployment> {
  const root = tempDir('deployment');
  const deployment: Deployment = {
    root,
    store: path.join(root, 'store'),
    cerPath: path.join(root, 'backup.cer'),
    pfxPath: path.join(root, 'backup.pfx'),
    folder: path.join(root, 'data', 'CA'),
    database: path.join(root, 'data', 'WAS.db'),
    scripted: path.join(root, 'data', 'ECE'),
  };
  mkdirSync(deployment.store, { recursive: true });
  mkdirSync(deployment.folder, { recursive: true });
  mkdirSync(deployment.scripted, { recursive: true });
  createDirectoryRoleData(deployment.folder);
  createDatabase(deployment.database, 2000);
  writeFileSync(
    path.join(deployment.scripted, 'ece-settings.xml'),
    '<Settings><Node Name="n1"/></Settings>\n',
  );
  await daemon.call('certificate.new', {
    Subject: 'CN=AzureStackBackup Test',
    CerPath: deployment.cerPath,
    PfxPath: deployment.pfxPath,
    PfxPassword: PFX_PASSWORD,
    ValidityYears: 1,
  });
  await daemon.call('config.set', { Path: deployment.store, EncryptionCertPath: deployment.cerPath });
  await daemon.call('role.register', { Name: 'CA', Provider: 'Directory', Path: deployment.folder });
  await daemon.call('role.register', { Name: 'WAS', Provider: 'Sqlite', Path: deployment.database });
  const sleep = options.scriptSleepSeconds ? `Start-Sleep -Seconds ${options.scriptSleepSeconds}; ` : '';
  const fail = options.scriptThrows ? "throw 'ECE configuration store is offline'; " : '';
  await daemon.call('role.register', {
    Name: 'ECE',
    Provider: 'PowerShell',
    BackupScript: `${sleep}${fail}Copy-Item -Path (Join-Path '${deployment.scripted}' '*') -Destination $StagingPath -Recurse`,
    RestoreScript: `$null = New-Item -ItemType Directory -Force -Path '${deployment.scripted}'; Copy-Item -Path (Join-Path $StagingPath '*') -Destination '${deployment.scripted}' -Recurse -Force`,
  });
  return deployment;
}

/**
 * A daemon and a deployment (without the slow PowerShell role unless asked) for the tests of one
 * describe block: made before them, stopped and removed after them.
 */
export function deploymentForSuite(options: { testHooks?: boolean; scriptRole?: boolean } = {}): () => {
  daemon: TestDaemon;
  deployment: Deployment;
} {
  let current: { daemon: TestDaemon; deployment: Deployment } | undefined;
  before(async () => {
    const daemon = startDaemon({ testHooks: options.testHooks });
    const deployment = await createDeployment(daemon);
    if (!options.scriptRole) await daemon.call('role.unregister', { Name: 'ECE' });
    current = { daemon, deployment };
  });
  after(() => {
    if (!current) return;
    current.daemon.stop();
    [current.daemon.stateDir, current.deployment.root].forEach(removeDir);
  });
  return () => current!;
}

/** Runs `action` while the deployment's store folder is gone (moved aside: a path fault), then puts it back. */
export async function withoutStore<T>(deployment: Deployment, action: () => Promise<T>): Promise<T> {
  const moved = `${deployment.store}.moved`;
  renameSync(deployment.store, moved);
  try {
    return await action();
  } finally {
    renameSync(moved, deployment.store);
  }
}

/** The stored archive of one role of a backup on a local-folder store. */
export function roleFile(store: string, backupId: string, role: string): string {
  const root = path.join(store, 'MASBackup');
  const stamp = readdirSync(root).find((name) => existsSync(path.join(root, name, backupId)))!;
  return path.join(root, stamp, backupId, role, `${role}.azsb`);
}

/** Corrupts one stored byte, as a failing disk or a meddler would. */
export function flipByte(file: string, offset: number): void {
  const fd = openSync(file, 'r+');
  const byte = Buffer.alloc(1);
  readSync(fd, byte, 0, 1, offset);
  byte[0] = byte[0]! ^ 0xff;
  writeSync(fd, byte, 0, 1, offset);
  closeSync(fd);
}

/** A SQLite role's `subscriptions` rows (as createDeployment makes them), once the file passed integrity_check. */
export function subscriptionRows(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    return JSON.stringify(
      db.prepare('SELECT id, owner, hex(payload) AS payload FROM subscriptions ORDER BY id').all(),
    );
  } finally {
    db.close();
  }
}
