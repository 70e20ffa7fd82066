/**
 * What a process loads before it needs it. Every `azsbackup` command but `serve` and `extract`
 * starts without the engine, the archive and the blob SDK, and a blob store loads the SDK at its
 * first request: each of them costs every start about 0.1 s (docs/cli.md). A child process runs
 * with a module hook that names every module it resolves.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { cliMain, repoRoot } from '../helpers/pwsh.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'module-loading-'));
after(() => rmSync(work, { recursive: true, force: true }));

const hook = path.join(work, 'hook.mjs');
writeFileSync(
  hook,
  'export async function resolve(specifier, context, next) { const resolved = await next(specifier, context); process.stderr.write(`LOADED ${resolved.url}\\n`); return resolved; }\n',
);
const registration = path.join(work, 'register.mjs');
writeFileSync(
  registration,
  `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(hook).href)});\n`,
);

/** The URLs of the modules the node process with these arguments resolved, and its stdout. */
function loadedBy(args: string[]): { modules: string[]; stdout: string } {
  const run = spawnSync(process.execPath, ['--import', registration, ...args], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const modules = run.stderr
    .split('\n')
    .filter((line) => line.startsWith('LOADED '))
    .map((line) => line.slice('LOADED '.length));
  assert.ok(modules.length > 0, 'the hook saw no module: the test would pass whatever loads');
  return { modules, stdout: run.stdout };
}

const distSource = pathToFileURL(path.join(repoRoot, 'dist', 'src')).href;
const loads = (modules: string[], folder: string) =>
  modules.some((url) => url.startsWith(`${distSource}/${folder}/`));
const loadsSdk = (modules: string[]) =>
  modules.some((url) => url.includes('/node_modules/@azure/storage-blob/'));

test('azsbackup --version loads neither the engine, the archive, the repository nor the blob SDK', () => {
  const { modules, stdout } = loadedBy([cliMain, '--version']);
  assert.match(stdout, /^\d+\.\d+\.\d+/);
  assert.ok(loads(modules, 'protocol'), 'the CLI loads the protocol it speaks');
  for (const folder of ['engine', 'archive', 'repository', 'roles'])
    assert.ok(!loads(modules, folder), `the ${folder} modules`);
  assert.ok(!modules.includes(`${distSource}/daemon/server.js`), 'the daemon server');
  assert.ok(!loadsSdk(modules), 'the blob SDK');
});

test('a blob store loads the SDK at its first request, not when it is opened', () => {
  const storage = (file: string) => JSON.stringify(`${distSource}/storage/${file}`);
  // Port 9 (discard): nothing answers on this machine, so the request fails at once.
  const settings = {
    path: 'http://127.0.0.1:9/devstoreaccount1/backups',
    userName: 'devstoreaccount1',
    password: Buffer.alloc(32).toString('base64'),
    requireEncryption: false,
  };
  const script = (request: boolean) =>
    `const { openStore } = await import(${storage('openStore.js')});
     const { BlobStore } = await import(${storage('blobStore.js')});
     const opened = openStore(${JSON.stringify(settings)});
     const store = new BlobStore(${JSON.stringify(settings)});
     ${request ? "await store.stat('x').catch(() => {});" : ''}
     process.stdout.write(opened.location);`;
  const opened = loadedBy(['--input-type=module', '--eval', script(false)]);
  assert.equal(opened.stdout, settings.path);
  assert.ok(!loadsSdk(opened.modules), 'opening the store loaded the SDK');
  assert.ok(
    loadsSdk(loadedBy(['--input-type=module', '--eval', script(true)]).modules),
    'no SDK after a request',
  );
});
