/**
 * Infrastructure-like sample data for the demo and the benchmark: SQLite databases with realistic
 * rows (identity, Resource Manager), folders of secrets and certificates, many small JSON/XML
 * configuration files, and large files with zero runs (VHD-like).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

function createDatabase(file: string, schema: string, fill: (db: Database.Database) => void): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(schema);
  db.transaction(() => fill(db))();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

/** The identity store (role Domain): users, groups, memberships. */
export function createDomainDatabase(file: string, users: number): void {
  createDatabase(
    file,
    `CREATE TABLE users (id TEXT PRIMARY KEY, upn TEXT UNIQUE, display_name TEXT, enabled INTEGER, password_hash BLOB, created TEXT);
     CREATE TABLE groups (id TEXT PRIMARY KEY, name TEXT UNIQUE, description TEXT);
     CREATE TABLE memberships (user_id TEXT, group_id TEXT, PRIMARY KEY (user_id, group_id));`,
    (db) => {
      const groups = ['Domain Admins', 'Cloud Operators', 'Tenant Admins', 'Readers', 'Backup Operators'].map(
        (name) => {
          const id = randomUUID();
          db.prepare('INSERT INTO groups VALUES (?, ?, ?)').run(
            id,
            name,
            `${name} of the azurestack.local stamp`,
          );
          return id;
        },
      );
      const insertUser = db.prepare('INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)');
      const insertMembership = db.prepare('INSERT INTO memberships VALUES (?, ?)');
      for (let index = 0; index < users; index += 1) {
        const id = randomUUID();
        insertUser.run(
          id,
          `user${index}@azurestack.local`,
          `User ${index}`,
          index % 17 ? 1 : 0,
          randomBytes(32),
          new Date(Date.UTC(2024, 0, 1) + index * 60000).toISOString(),
        );
        insertMembership.run(id, groups[index % groups.length]);
      }
    },
  );
}

/** Resource Manager (role WAS): subscriptions, plans, offers, quotas. */
export function createResourceManagerDatabase(file: string, subscriptions: number): void {
  createDatabase(
    file,
    `CREATE TABLE offers (id TEXT PRIMARY KEY, name TEXT, state TEXT);
     CREATE TABLE plans (id TEXT PRIMARY KEY, offer_id TEXT, name TEXT, quota_json TEXT);
     CREATE TABLE subscriptions (id TEXT PRIMARY KEY, owner TEXT, offer_id TEXT, display_name TEXT, state TEXT, tags_json TEXT);`,
    (db) => {
      const offers = ['Basic', 'Standard', 'Premium'].map((name) => {
        const id = randomUUID();
        db.prepare('INSERT INTO offers VALUES (?, ?, ?)').run(id, `${name}Offer`, 'Public');
        db.prepare('INSERT INTO plans VALUES (?, ?, ?, ?)').run(
          randomUUID(),
          id,
          `${name}Plan`,
          JSON.stringify({
            compute: { cores: name.length * 20, vms: 50 },
            storage: { capacityGb: 2048 },
            network: { publicIps: 10 },
          }),
        );
        return id;
      });
      const insert = db.prepare('INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, ?)');
      for (let index = 0; index < subscriptions; index += 1) {
        insert.run(
          randomUUID(),
          `tenant${index % 97}@contoso.com`,
          offers[index % 3],
          `Subscription ${index}`,
          index % 11 ? 'Enabled' : 'Disabled',
          JSON.stringify({ costCenter: `CC${index % 13}`, env: 'prod' }),
        );
      }
    },
  );
}

/** Key Vault data plane (role KeyVaultDataPlane): vaults of secret blobs (incompressible). */
export function createSecretFolder(
  folder: string,
  vaults: number,
  secretsPerVault: number,
  secretBytes = 2048,
): number {
  let bytes = 0;
  for (let vault = 0; vault < vaults; vault += 1) {
    const dir = path.join(folder, `vault-${vault}`, 'secrets');
    mkdirSync(dir, { recursive: true });
    for (let secret = 0; secret < secretsPerVault; secret += 1) {
      const blob = randomBytes(secretBytes);
      writeFileSync(path.join(dir, `secret-${secret}.bin`), blob);
      bytes += blob.length;
    }
  }
  mkdirSync(path.join(folder, 'empty-vault'), { recursive: true });
  return bytes;
}

/**
 * Many small configuration files, JSON and XML, as deployment services keep them: a few KB each
 * (settings of one service on one node), so `bytes / 4 KB` files for a given size.
 */
export function createConfigFolder(folder: string, files: number): number {
  let bytes = 0;
  mkdirSync(folder, { recursive: true });
  for (let index = 0; index < files; index += 1) {
    const sub = path.join(folder, `node-${index % 16}`, `service-${index % 40}`);
    mkdirSync(sub, { recursive: true });
    const settings = Array.from({ length: 12 + (index % 24) }, (_, item) => ({
      name: `Setting${item}`,
      value: `https://svc${index}-${item}.azurestack.local:${30000 + item}`,
      secretRef: randomUUID(),
      retries: item % 7,
    }));
    const content =
      index % 2
        ? JSON.stringify(
            { id: randomUUID(), role: `role-${index % 40}`, node: `node-${index % 16}`, settings },
            null,
            2,
          )
        : `<?xml version="1.0"?>\n<Configuration Id="${randomUUID()}">\n${settings
            .map(
              (setting) =>
                `  <Setting Name="${setting.name}" Value="${setting.value}" SecretRef="${setting.secretRef}" Retries="${setting.retries}"/>`,
            )
            .join('\n')}\n</Configuration>\n`;
    writeFileSync(path.join(sub, `config-${index}.${index % 2 ? 'json' : 'xml'}`), content);
    bytes += Buffer.byteLength(content);
  }
  return bytes;
}

/** A large file that is mostly zero runs with random islands, like a sparse disk image. */
export async function createImageFile(file: string, bytes: number): Promise<void> {
  const out = createWriteStream(file);
  const block = 1024 * 1024;
  for (let written = 0; written < bytes; written += block) {
    const size = Math.min(block, bytes - written);
    const chunk = (written / block) % 4 === 0 ? randomBytes(size) : Buffer.alloc(size);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise((resolve, reject) =>
    out.end((error?: Error) => (error ? reject(error) : resolve(undefined))),
  );
}

/**
 * The benchmark's tree of `bytes` (npm run bench, scripts/measure-restore.ts), one folder per role:
 * 10% SQLite (Domain, WAS), 15% 32 KB secrets (KeyVaultDataPlane), 10% JSON/XML files of a few KB
 * (ECE), 65% large images with zero runs (Images). Replaces whatever `folder` held; writes
 * `.complete` last.
 */
export async function createInfrastructureTree(folder: string, bytes: number): Promise<void> {
  rmSync(folder, { recursive: true, force: true });
  for (const role of ['Domain', 'WAS', 'KeyVaultDataPlane', 'ECE', 'Images'])
    mkdirSync(path.join(folder, role), { recursive: true });
  createDomainDatabase(
    path.join(folder, 'Domain', 'Domain.db'),
    Math.max(1000, Math.round((bytes * 0.07) / 250)),
  );
  createResourceManagerDatabase(
    path.join(folder, 'WAS', 'WAS.db'),
    Math.max(1000, Math.round((bytes * 0.03) / 250)),
  );
  const secretBytes = 32 * 1024;
  createSecretFolder(
    path.join(folder, 'KeyVaultDataPlane'),
    8,
    Math.max(1, Math.round((bytes * 0.15) / secretBytes / 8)),
    secretBytes,
  );
  createConfigFolder(path.join(folder, 'ECE'), Math.max(100, Math.round((bytes * 0.1) / 4000)));
  const images = 4;
  for (let index = 0; index < images; index += 1)
    await createImageFile(
      path.join(folder, 'Images', `disk-${index}.vhd`),
      Math.round((bytes * 0.65) / images),
    );
  writeFileSync(path.join(folder, '.complete'), '');
}
