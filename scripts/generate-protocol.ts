/**
 * Writes, from src/protocol, the two descriptions other parts read: module/Private/AzsProtocol.json
 * (method names and the error table, for the PowerShell module) and docs/rpc.md (for people).
 * A unit test checks both committed files are current.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { protocolDescription, rpcMarkdown } from '../src/protocol/describe.js';

const target = (relative: string) => fileURLToPath(new URL(`../../${relative}`, import.meta.url));
writeFileSync(
  target('module/Private/AzsProtocol.json'),
  `${JSON.stringify(protocolDescription(), null, 2)}\n`,
);
writeFileSync(target('docs/rpc.md'), rpcMarkdown());
