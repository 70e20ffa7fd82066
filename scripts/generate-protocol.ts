/**
 * Writes module/Private/AzsProtocol.json from src/protocol: the method names and the error table the
 * PowerShell module uses. A unit test checks the committed file is current.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { protocolDescription } from '../src/protocol/describe.js';

const target = fileURLToPath(new URL('../../module/Private/AzsProtocol.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(protocolDescription(), null, 2)}\n`);
