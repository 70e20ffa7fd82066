/**
 * `npm run demo`: the main job on an embedded default. Builds a sample deployment under .demo/
 * (roles Domain and WAS as SQLite databases, KeyVaultDataPlane and CA as folders, ECE as a
 * PowerShell role), then runs scripts/demo.ps1 in real pwsh: a demo certificate, a local-folder
 * store, a backup through the cmdlets, and Get-AzsBackup.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEncryptionCertificate } from '../src/crypto/certificates.js';
import {
  createConfigFolder,
  createDomainDatabase,
  createResourceManagerDatabase,
  createSecretFolder,
} from './sampleData.js';
import { randomBytes } from 'node:crypto';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const workspace = path.resolve(process.env.AZSBACKUP_DEMO_DIR ?? path.join(repo, '.demo'));
const cli = path.join(repo, 'dist', 'src', 'cli', 'main.js');
const stateDir = path.join(workspace, 'state');

function step(text: string): void {
  process.stdout.write(`==> ${text}\n`);
}

async function createSampleDeployment(): Promise<void> {
  const data = path.join(workspace, 'data');
  step(`Creating a sample deployment in ${data}`);
  for (const role of ['Domain', 'WAS', 'KeyVaultDataPlane', 'CA', 'ECE'])
    mkdirSync(path.join(data, role), { recursive: true });
  createDomainDatabase(path.join(data, 'Domain', 'Domain.db'), 20_000);
  createResourceManagerDatabase(path.join(data, 'WAS', 'WAS.db'), 5_000);
  createSecretFolder(path.join(data, 'KeyVaultDataPlane'), 4, 50);
  for (const name of ['root-ca', 'issuing-ca-1', 'issuing-ca-2']) {
    await createEncryptionCertificate({
      subject: `CN=AzureStack ${name}, O=Contoso`,
      cerPath: path.join(data, 'CA', `${name}.cer`),
      pfxPath: path.join(data, 'CA', `${name}.pfx`),
      pfxPassword: randomBytes(16).toString('hex'),
      validityYears: 5,
      keySize: 2048,
    });
  }
  createConfigFolder(path.join(data, 'ECE'), 200);
  mkdirSync(path.join(workspace, 'store'), { recursive: true });
  mkdirSync(path.join(workspace, 'certs'), { recursive: true });
}

spawnSync(process.execPath, [cli, 'stop', '--state-dir', stateDir], { stdio: 'ignore' });
rmSync(workspace, { recursive: true, force: true });
await createSampleDeployment();
step('Backing up through the PowerShell module (real pwsh)');
const pwsh = spawnSync(
  'bash',
  [
    path.join(repo, 'scripts', 'pwsh.sh'),
    '-NonInteractive',
    '-File',
    path.join(repo, 'scripts', 'demo.ps1'),
    '-Workspace',
    workspace,
  ],
  {
    stdio: 'inherit',
    env: { ...process.env, AZSBACKUP_HOME: stateDir },
  },
);
spawnSync(process.execPath, [cli, 'stop', '--state-dir', stateDir], { stdio: 'ignore' });
process.exitCode = pwsh.status ?? 1;
