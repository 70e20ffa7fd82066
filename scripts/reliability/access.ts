/**
 * Scenario 5, access: another local user can neither connect to the daemon's socket nor read its
 * state folder; a client without the token, or with a wrong one, is refused; and the secrets — the
 * share password, the .pfx password, the private key (its PEM text and DER bytes) and the .pfx bytes
 * — appear in no log, no job history, no error message, no process's arguments (sampled from
 * /proc/*\/cmdline throughout) and in no file under the state folder or the store.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { readPfx } from '../../src/crypto/keyWrap.js';
import { RpcError } from '../../src/daemon/client.js';
import { defaultEndpoint } from '../../src/util/platform.js';
import { removeDir, startDaemon, tempDir, type TestDaemon } from '../../test/helpers/daemon.js';
import { createDeployment, PFX_PASSWORD, type Deployment } from '../../test/helpers/deployment.js';
import { SambaServer } from '../../test/helpers/samba.js';
import { addUser } from './attacks.js';
import {
  backupFolderOnDisk,
  Cleanup,
  errorMessage,
  extract,
  filesBelow,
  Tally,
  within,
  type SuiteOptions,
} from './common.js';

interface Secret {
  name: string;
  bytes: Buffer;
}

/** The secrets, each as byte strings that must not be found anywhere (fragments of the long ones). */
function secretsOf(server: SambaServer, deployment: Deployment, sharePassword: string): Secret[] {
  const pfx = readFileSync(deployment.pfxPath);
  const { privateKey } = readPfx(pfx, PFX_PASSWORD, deployment.pfxPath);
  const middle = (text: string, length = 48) => text.slice(text.length / 2, text.length / 2 + length);
  const pemBody = (type: 'pkcs8' | 'pkcs1') =>
    (privateKey.export({ type, format: 'pem' }) as string).replace(/-----[^-]+-----|\s/g, '');
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  return [
    { name: 'share password', bytes: Buffer.from(sharePassword) },
    { name: 'original share password', bytes: Buffer.from(server.password) },
    { name: '.pfx password', bytes: Buffer.from(PFX_PASSWORD) },
    { name: "PEM 'PRIVATE KEY' text", bytes: Buffer.from('PRIVATE KEY') },
    { name: 'private key PEM body (PKCS#8)', bytes: Buffer.from(middle(pemBody('pkcs8'))) },
    { name: 'private key PEM body (PKCS#1)', bytes: Buffer.from(middle(pemBody('pkcs1'))) },
    { name: 'private key DER bytes', bytes: der.subarray(der.length / 2, der.length / 2 + 32) },
    { name: '.pfx bytes in base64', bytes: Buffer.from(middle(pfx.toString('base64'))) },
    { name: '.pfx bytes', bytes: pfx.subarray(pfx.length / 2, pfx.length / 2 + 32) },
  ];
}

function findSecrets(secrets: Secret[], haystack: Buffer, where: string, tally: Tally): void {
  for (const secret of secrets)
    if (haystack.includes(secret.bytes)) tally.leak(`${secret.name} found in ${where}`);
}

/** Every process's command line, sampled until stopped. */
function sampleCommandLines(): { stop(): Set<string> } {
  const seen = new Set<string>();
  const sample = () => {
    for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
      try {
        seen.add(readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
      } catch {
        // the process ended between the listing and the read
      }
    }
  };
  const timer = setInterval(sample, 25);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return seen;
    },
  };
}

/** Runs a node snippet as another user; its stdout. */
function runAs(user: string, script: string): string {
  const result = spawnSync('runuser', ['-u', user, '--', process.execPath, '-e', script], {
    encoding: 'utf8',
    cwd: '/',
    timeout: 30_000,
  });
  return `${result.stdout}${result.stderr}`.trim();
}

function anotherUser(daemon: TestDaemon, tally: Tally, cleanup: Cleanup): void {
  const user = addUser(cleanup).name;
  const socket = defaultEndpoint(daemon.stateDir);
  const connect = `require('net').createConnection(${JSON.stringify(socket)}).on('connect', () => { console.log('CONNECTED'); process.exit(0); }).on('error', (e) => { console.log('REFUSED ' + e.code); process.exit(0); });`;
  tally.runs += 1;
  tally.injected += 1;
  const connected = runAs(user, connect);
  if (!connected.startsWith('REFUSED'))
    tally.leak(`another local user connected to the daemon's socket (${connected})`);
  for (const file of ['token', 'config.json', 'secret.key', 'deployment.json', 'logs']) {
    tally.runs += 1;
    tally.injected += 1;
    const target = path.join(daemon.stateDir, file);
    const read = runAs(
      user,
      `try { const fs = require('fs'); const t = ${JSON.stringify(target)}; console.log(fs.statSync(t).isDirectory() ? 'READ ' + fs.readdirSync(t).length : 'READ ' + fs.readFileSync(t).length); } catch (e) { console.log('REFUSED ' + e.code); }`,
    );
    if (!read.startsWith('REFUSED')) tally.leak(`another local user read ${target} (${read})`);
  }
  const mode = statSync(daemon.stateDir).mode & 0o777;
  tally.check(mode === 0o700, `the state folder has mode ${mode.toString(8)}, not 700`);
  for (const file of filesBelow(daemon.stateDir))
    if ((statSync(file).mode & 0o077) !== 0)
      tally.fail(`${file} is readable by others (mode ${(statSync(file).mode & 0o777).toString(8)})`);
}

/** Raw requests without a token, or with a wrong one: answered Unauthorized and closed, never a result. */
async function withoutToken(daemon: TestDaemon, tally: Tally): Promise<void> {
  const socket = defaultEndpoint(daemon.stateDir);
  const request = (id: number, method: string, params: unknown) =>
    JSON.stringify({ jsonrpc: '2.0', id, method, params });
  const attempts = [
    `${request(1, 'config.get', {})}\n${request(2, 'backup.list', {})}\n`,
    `${request(1, 'session.authenticate', { token: '0'.repeat(64) })}\n${request(2, 'config.get', {})}\n`,
    `${request(1, 'session.authenticate', { token: '' })}\n${request(2, 'daemon.shutdown', {})}\n`,
  ];
  for (const text of attempts) {
    tally.runs += 1;
    tally.injected += 1;
    const replies = await new Promise<string>((resolve) => {
      let received = '';
      const client = net.createConnection(socket, () => client.write(text));
      client.setEncoding('utf8');
      client.on('data', (chunk) => (received += chunk));
      client.on('error', () => undefined);
      client.on('close', () => resolve(received));
      setTimeout(() => client.destroy(), 10_000);
    });
    if (replies.includes('"result"'))
      tally.leak(`a client without the token got a result: ${replies.slice(0, 200)}`);
    tally.check(
      replies.includes('Unauthorized') || replies.includes('-32'),
      `a client without the token got no error: ${replies}`,
    );
  }
  await within(daemon.call('daemon.status', {}), 10_000, 'daemon.status');
}

export async function access(options: SuiteOptions): Promise<Tally> {
  const tally = new Tally('5. access and secrets');
  const cleanup = new Cleanup();
  const errors: string[] = [];
  const record = (error: unknown) =>
    void errors.push(error instanceof RpcError ? error.message : errorMessage(error));
  try {
    const server = await SambaServer.start();
    cleanup.add(() => server.dispose());
    const root = tempDir('rel-access');
    cleanup.add(() => removeDir(root));
    chmodSync(root, 0o755); // the daemon itself must protect its state folder, not a 0700 parent
    const daemon = startDaemon({ stateDir: path.join(root, 'state') });
    cleanup.add(() => daemon.stop());
    const commandLines = sampleCommandLines();
    const deployment = await createDeployment(daemon);
    cleanup.add(() => removeDir(deployment.root));
    const share = path.join(server.sharePath('backup'), 'east');
    mkdirSync(share);
    spawnSync('chmod', ['-R', 'a+rwX', server.sharePath('backup')]);
    const uncPath = server.uncPath('backup', 'east');
    await daemon
      .call('config.set', { Path: uncPath, UserName: server.user, Password: 'wrong-password' })
      .catch(record);
    await daemon.call('config.set', {
      Path: uncPath,
      UserName: `CONTOSO\\${server.user}`,
      Password: server.password,
    });
    await daemon.call('store.test', {});
    const backup = await daemon.call('backup.start', { Wait: true });
    if (tally.check(backup.Status === 'Succeeded', `backup ended ${backup.Status}`)) tally.committed += 1;
    const pfx = { DecryptionCertPath: deployment.pfxPath, DecryptionCertPassword: PFX_PASSWORD };
    await daemon
      .call('backup.test', { Name: backup.BackupId, ...pfx, DecryptionCertPassword: 'wrong' })
      .catch(record);
    await daemon
      .call('backup.restore', { Name: backup.BackupId, ...pfx, DecryptionCertPassword: 'wrong', Wait: true })
      .catch(record);
    const tested = await daemon.call('backup.test', { Name: backup.BackupId, ...pfx });
    await daemon.call('backup.restore', { Name: backup.BackupId, ...pfx, Wait: true });
    const out = tempDir('rel-access-extract');
    cleanup.add(() => removeDir(out));
    const extracted = await extract(backupFolderOnDisk(share, backup.BackupId)!, deployment.pfxPath, out);
    if (tested.results.every((result) => result.Status === 'Succeeded') && extracted.code === 0)
      tally.verified += 1;
    else tally.lose(`backup ${backup.BackupId} does not verify: ${extracted.stderr}`);
    const jobs = JSON.stringify(await daemon.call('job.list', {}));
    const alerts = JSON.stringify(await daemon.call('alert.list', {}));
    anotherUser(daemon, tally, cleanup);
    await withoutToken(daemon, tally);
    const seen = commandLines.stop();

    const secrets = secretsOf(server, deployment, server.password);
    tally.runs += 1;
    // The scan must be able to fail: it finds the .pfx in the .pfx file, and smbclient among the processes.
    tally.check(
      readFileSync(deployment.pfxPath).includes(
        secrets.find((secret) => secret.name === '.pfx bytes')!.bytes,
      ),
      'the secret scan does not find the .pfx bytes in the .pfx itself',
    );
    tally.check(
      [...seen].some((line) => line.includes('smbclient')),
      'the command-line sampler never saw smbclient run',
    );
    findSecrets(secrets, Buffer.from(errors.join('\n')), 'an error message', tally);
    findSecrets(secrets, Buffer.from(jobs), 'the job history', tally);
    findSecrets(secrets, Buffer.from(alerts), 'the alerts', tally);
    findSecrets(secrets, Buffer.from([...seen].join('\n'), 'latin1'), 'a process command line', tally);
    for (const file of [...filesBelow(daemon.stateDir), ...filesBelow(server.sharePath('backup'))])
      findSecrets(secrets, readFileSync(file), file, tally);
    options.log(
      `access: scanned ${seen.size} command lines, ${errors.length} error messages, the job history, ` +
        `${filesBelow(daemon.stateDir).length} state files and ${filesBelow(server.sharePath('backup')).length} store files for ${secrets.length} secrets`,
    );
  } catch (error) {
    tally.fail(`scenario stopped: ${errorMessage(error)}`);
  } finally {
    await cleanup.run();
  }
  return tally;
}
