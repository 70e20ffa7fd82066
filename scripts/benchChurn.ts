/**
 * What changes in the bench's sample tree (scripts/sampleData.ts) between two backups of
 * `npm run bench -- --incremental`: about 1 % of it, as an infrastructure changes between two
 * scheduled backups, the same change for the same seed. Rows of each SQLite database updated in
 * place in runs of neighbouring rows, a few configuration files rewritten (secret references
 * rotated), a few secrets replaced, and runs of one disk image overwritten in place (issue 20: "a few
 * MiB of a disk image changed"; each step picks its image, so a series changes them all). Nothing is
 * added or removed: every path keeps its size, so a restore is checked against the same listing.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { listTree } from './benchTree.js';

/** The share of each kind of data changed at each step. */
const ROWS_CHANGED = 0.01;
const CONFIG_FILES_CHANGED = 0.01;
const SECRETS_CHANGED = 0.01;
/** Of all the images' bytes, changed in one of them: 5 MB of the 1 GiB tree's 666 MB. */
const IMAGE_BYTES_CHANGED = 0.0075;
/** Updated rows come in runs of neighbours (a tenant's subscriptions, a batch of accounts). */
const ROW_RUN = 32;
/** Disk images change in runs of this many bytes, at offsets that are multiples of it. */
const IMAGE_RUN = 256 * 1024;

/** The sample tree's SQLite databases, by path under the tree, and how a row of each changes. */
export const SAMPLE_DATABASES: Record<
  string,
  { table: string; update: string; values(random: SeededRandom): unknown[] }
> = {
  'Domain/Domain.db': {
    table: 'users',
    // A password change, and the account enabled or disabled.
    update: 'UPDATE users SET password_hash = ?, enabled = 1 - enabled WHERE rowid = ?',
    values: (random) => [random.bytes(32)],
  },
  'WAS/WAS.db': {
    table: 'subscriptions',
    // A subscription moved to another cost centre, and enabled or disabled.
    update:
      "UPDATE subscriptions SET tags_json = ?, state = CASE state WHEN 'Enabled' THEN 'Disabled' ELSE 'Enabled' END WHERE rowid = ?",
    values: (random) => [JSON.stringify({ costCenter: `CC${random.below(100)}`, env: 'prod' })],
  },
};

/** Pseudo-random bytes and choices that depend on nothing but the seed (AES-256-CTR keyed by its SHA-256). */
export class SeededRandom {
  private readonly stream;

  constructor(seed: string) {
    const key = createHash('sha256').update(seed).digest();
    this.stream = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  bytes(count: number): Buffer {
    return this.stream.update(Buffer.alloc(count));
  }

  /** An integer in [0, limit). */
  below(limit: number): number {
    return this.bytes(6).readUIntBE(0, 6) % limit;
  }

  /** `count` different integers in [0, limit), in increasing order. */
  distinct(count: number, limit: number): number[] {
    const chosen = new Set<number>();
    while (chosen.size < Math.min(count, limit)) chosen.add(this.below(limit));
    return [...chosen].sort((a, b) => a - b);
  }

  uuid(): string {
    const hex = this.bytes(16).toString('hex');
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
  }
}

/** What one change did. */
export interface ChangeSummary {
  rows: number;
  configFiles: number;
  secrets: number;
  imageBytes: number;
  /** Bytes of files rewritten and of image runs overwritten (the rows' pages not counted). */
  fileBytes: number;
}

/** Changes about 1 % of the sample tree in `folder`, the same way for the same seed. */
export function changeSampleTree(folder: string, seed: string): ChangeSummary {
  const random = new SeededRandom(seed);
  const rows = Object.keys(SAMPLE_DATABASES).reduce(
    (total, name) => total + updateRows(folder, name, random),
    0,
  );
  const config = rewriteFiles(path.join(folder, 'ECE'), CONFIG_FILES_CHANGED, random, (content) =>
    rotateSecretReferences(content, random),
  );
  const secrets = rewriteFiles(path.join(folder, 'KeyVaultDataPlane'), SECRETS_CHANGED, random, (content) =>
    random.bytes(content.length),
  );
  const imageBytes = overwriteImageRuns(path.join(folder, 'Images'), random);
  return {
    rows,
    configFiles: config.files,
    secrets: secrets.files,
    imageBytes,
    fileBytes: config.bytes + secrets.bytes + imageBytes,
  };
}

/** Updates ROWS_CHANGED of the table's rows, in runs of ROW_RUN neighbours; returns how many. */
function updateRows(folder: string, name: string, random: SeededRandom): number {
  const { table, update, values } = SAMPLE_DATABASES[name]!;
  const db = new Database(path.join(folder, name), { fileMustExist: true });
  try {
    const last = (db.prepare(`SELECT max(rowid) AS last FROM ${table}`).get() as { last: number }).last;
    const runs = Math.max(1, Math.round((last * ROWS_CHANGED) / ROW_RUN));
    const statement = db.prepare(update);
    let changed = 0;
    db.transaction(() => {
      for (const run of random.distinct(runs, Math.max(1, Math.floor(last / ROW_RUN))))
        for (let rowid = run * ROW_RUN + 1; rowid <= Math.min(last, (run + 1) * ROW_RUN); rowid += 1)
          changed += statement.run(...values(random), rowid).changes;
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
    return changed;
  } finally {
    db.close();
  }
}

/** Rewrites `share` of the files under `folder` (the same size each) with `rewrite`'s content. */
function rewriteFiles(
  folder: string,
  share: number,
  random: SeededRandom,
  rewrite: (content: Buffer) => Buffer,
): { files: number; bytes: number } {
  const files = [...listTree(folder)]
    .filter(([, entry]) => typeof entry === 'number')
    .map(([name]) => name)
    .sort();
  const chosen = random.distinct(Math.max(1, Math.round(files.length * share)), files.length);
  let bytes = 0;
  for (const index of chosen) {
    const file = path.join(folder, files[index]!);
    const content = rewrite(readFileSync(file));
    writeFileSync(file, content);
    bytes += content.length;
  }
  return { files: chosen.length, bytes };
}

/** A configuration file with each of its secret references pointing at a new secret (same length). */
function rotateSecretReferences(content: Buffer, random: SeededRandom): Buffer {
  return Buffer.from(
    content
      .toString('utf8')
      .replace(/(secretRef": "|SecretRef=")[0-9a-f-]{36}/g, (_, prefix: string) => prefix + random.uuid()),
  );
}

/**
 * Overwrites, in one disk image picked by `random`, IMAGE_BYTES_CHANGED of all the images' bytes in
 * place, in runs of IMAGE_RUN; returns the bytes.
 */
function overwriteImageRuns(folder: string, random: SeededRandom): number {
  const images = [...listTree(folder)]
    .filter(([, entry]) => typeof entry === 'number')
    .map(([image]) => path.join(folder, image))
    .sort();
  if (!images.length) return 0;
  const total = images.reduce((sum, image) => sum + statSync(image).size, 0);
  const file = images[random.below(images.length)]!;
  const slots = Math.floor(statSync(file).size / IMAGE_RUN);
  if (slots === 0) return 0;
  const handle = openSync(file, 'r+');
  let bytes = 0;
  try {
    for (const slot of random.distinct(
      Math.max(1, Math.round((total * IMAGE_BYTES_CHANGED) / IMAGE_RUN)),
      slots,
    ))
      bytes += writeSync(handle, random.bytes(IMAGE_RUN), 0, IMAGE_RUN, slot * IMAGE_RUN);
  } finally {
    closeSync(handle);
  }
  return bytes;
}
