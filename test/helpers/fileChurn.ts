/**
 * A separate process that churns a folder of self-validating files until it is killed, for backups
 * of a directory that changes during the copy:
 *   node fileChurn.js <folder> <tempFolder> <files>
 * Each file is `AZSR <length> <sha256 of the body>\n<body>`, so any copy of it can be checked whole.
 * Files are created, rewritten and deleted at full speed; a rewrite is written under <tempFolder>
 * (same file system, outside the folder) and renamed over the file, so at every instant each name
 * holds a whole old or a whole new version. Bodies range from empty to 200 KiB, so both small files
 * and large (streamed) ones are rewritten. Prints "ready" once the folder is populated.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_BODY = 200 * 1024;

export function selfValidating(body: Buffer): Buffer {
  const digest = createHash('sha256').update(body).digest('hex');
  return Buffer.concat([Buffer.from(`AZSR ${body.length} ${digest}\n`), body]);
}

/** Null when the content is a whole self-validating file, else what is wrong with it. */
export function validationProblem(content: Buffer): string | null {
  const newline = content.indexOf(0x0a);
  const match = /^AZSR (\d+) ([0-9a-f]{64})$/.exec(
    content.subarray(0, Math.max(newline, 0)).toString('latin1'),
  );
  if (!match) return 'no header';
  const body = content.subarray(newline + 1);
  if (body.length !== Number(match[1])) return `body is ${body.length} bytes, header says ${match[1]}`;
  if (createHash('sha256').update(body).digest('hex') !== match[2]) return 'body does not match its hash';
  return null;
}

export function validateFile(file: string): string | null {
  return validationProblem(readFileSync(file));
}

function churn(folder: string, temp: string, files: number): void {
  mkdirSync(folder, { recursive: true });
  mkdirSync(temp, { recursive: true });
  const name = (index: number) => path.join(folder, index < files / 2 ? 'a' : 'b', `file-${index}.dat`);
  const write = (index: number) => {
    const staged = path.join(temp, `staged-${index}`);
    mkdirSync(path.dirname(name(index)), { recursive: true });
    writeFileSync(staged, selfValidating(randomBytes(randomInt(MAX_BODY + 1))));
    renameSync(staged, name(index));
  };
  for (let index = 0; index < files; index += 1) write(index);
  console.log('ready');
  const step = () => {
    const index = randomInt(files);
    if (randomInt(10) < 2) rmSync(name(index), { force: true });
    else write(index);
    setImmediate(step);
  };
  step();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [folder, temp, files] = process.argv.slice(2);
  if (!folder || !temp || !Number(files)) {
    console.error('usage: fileChurn.js <folder> <tempFolder> <files>');
    process.exit(2);
  }
  churn(folder, temp, Number(files));
}
