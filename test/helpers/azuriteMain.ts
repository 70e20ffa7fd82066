/**
 * Azurite for the Pester tests (test/pester/TestHelpers.ps1, Start-TestAzurite): starts it
 * (test/helpers/azurite.ts) in a temp folder with one empty container, prints one JSON line
 * `{ containerUrl, account, key }`, then answers one JSON line per command line on its standard
 * input, so that a test can make the faults real:
 *
 * - `create <container>` → `{ containerUrl }`
 * - `delete <container>` → `{}` (the container and its blobs are gone)
 * - `sas <container> <seconds>` → `{ sas }`, a container SAS token valid for that long
 * - `rotate-key` → `{ key }`: Azurite restarted on the same port and data with a new account key
 *
 * A failed command answers `{ error }`. Azurite stops, and its folder goes, when standard input
 * closes (the test closes it, or the test process is gone).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { AzuriteServer } from './azurite.js';

const folder = await mkdtemp(path.join(tmpdir(), 'azs-azurite-'));
let server = await AzuriteServer.start({ folder });
const containerUrl = await server.createContainer('backups');
reply({ containerUrl, account: AzuriteServer.account, key: server.accountKey });

async function run(command: string, args: string[]): Promise<object> {
  const [container = '', seconds = ''] = args;
  switch (command) {
    case 'create':
      return { containerUrl: await server.createContainer(container) };
    case 'delete':
      await server.deleteContainer(container);
      return {};
    case 'sas':
      return { sas: server.sas(container, new Date(Date.now() + Number(seconds) * 1000)) };
    case 'rotate-key':
      await server.stop();
      server = await server.restart(randomBytes(64).toString('base64'));
      return { key: server.accountKey };
    default:
      throw new Error(`unknown command '${command}'`);
  }
}

function reply(answer: object): void {
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}

// One command at a time, in order: a reply always answers the line before it.
let queue = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [command = '', ...args] = line.trim().split(/\s+/);
  queue = queue.then(() =>
    run(command, args).then(reply, (error: unknown) => reply({ error: String(error) })),
  );
});
lines.once('close', () => {
  queue = queue.then(async () => {
    await server.stop();
    await rm(folder, { recursive: true, force: true });
  });
});
