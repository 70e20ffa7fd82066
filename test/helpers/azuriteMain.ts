/**
 * Azurite for the Pester tests: starts it (test/helpers/azurite.ts) with one empty container, prints
 * one JSON line `{ containerUrl, account, key }`, and stops it when its standard input closes (the
 * test closes it, or the test process is gone).
 */
import { AzuriteServer } from './azurite.js';

const server = await AzuriteServer.start();
const containerUrl = await server.createContainer('backups');
process.stdout.write(
  `${JSON.stringify({ containerUrl, account: AzuriteServer.account, key: AzuriteServer.key })}\n`,
);
process.stdin.resume();
process.stdin.once('end', () => void server.stop());
process.stdin.once('close', () => void server.stop());
