/**
 * restic beside our engine in `npm run bench -- --incremental`: a repository in a folder of the
 * bench's work folder, its password in a 0600 file named by RESTIC_PASSWORD_FILE (never on a command
 * line), its cache in the work folder too (outside the repository, so not counted in its size), and
 * restic's defaults otherwise (repository format 2 with `--compression auto`, its own pack size).
 * The bench never installs it: without `restic` on PATH it is left out.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { timed } from './benchTree.js';

export class Restic {
  private constructor(
    /** The repository folder, whose size the bench measures. */
    readonly repository: string,
    /** `restic version`'s line. */
    readonly version: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** A new repository under `folder` (whatever was there is removed), or null without restic on PATH. */
  static async create(folder: string): Promise<Restic | null> {
    const version = spawnSync('restic', ['version'], { encoding: 'utf8' });
    if (version.error || version.status !== 0) return null;
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const passwordFile = path.join(folder, 'password');
    writeFileSync(passwordFile, randomBytes(24).toString('base64'), { mode: 0o600 });
    const repository = path.join(folder, 'repository');
    const restic = new Restic(repository, version.stdout.trim(), {
      ...process.env,
      RESTIC_REPOSITORY: repository,
      RESTIC_PASSWORD_FILE: passwordFile,
      RESTIC_CACHE_DIR: path.join(folder, 'cache'),
    });
    await restic.run(['init']);
    return restic;
  }

  /** Seconds `restic backup` of `folder` takes. */
  backup(folder: string): Promise<number> {
    return timed(() => this.run(['backup', folder]));
  }

  /** Seconds `restic restore latest` into `target` takes (the backed-up folder's full path under it). */
  restoreLatest(target: string): Promise<number> {
    return timed(() => this.run(['restore', 'latest', '--target', target]));
  }

  private async run(args: string[]): Promise<void> {
    const child = spawn('restic', ['--quiet', ...args], {
      env: this.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let errors = '';
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    const [code] = (await once(child, 'close')) as [number | null];
    if (code !== 0) throw new Error(`restic ${args[0]} failed (${String(code)}): ${errors.trim()}`);
  }
}
