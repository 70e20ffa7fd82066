/** Backup keys wrapped for a certificate and recovered with its .pfx: real RSA, real PKCS#12 files. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import forge from 'node-forge';
import { createEncryptionCertificate, type PublicCertificate } from '../../src/crypto/certificates.js';
import { generateBackupKey, readPfx, unwrapKey, wrapKey } from '../../src/crypto/keyWrap.js';
import { isAzsError } from '../../src/protocol/errors.js';

const folder = mkdtempSync(path.join(tmpdir(), 'azs-keywrap-'));
after(() => rmSync(folder, { recursive: true, force: true }));

const PASSWORD = 'Pfx-Secret-7Q!';
/** The backup the keys belong to, as its Name: the errors name it. */
const BACKUP = 'local/5d1f3c2a-6b7e-4f8a-9c0d-1e2f3a4b5c6d';

async function newCertificate(
  name: string,
  keySize: number,
): Promise<{ certificate: PublicCertificate; pfxPath: string }> {
  const pfxPath = path.join(folder, `${name}.pfx`);
  const certificate = await createEncryptionCertificate({
    subject: `CN=${name}`,
    cerPath: path.join(folder, `${name}.cer`),
    pfxPath,
    pfxPassword: PASSWORD,
    validityYears: 1,
    keySize,
  });
  return { certificate, pfxPath };
}

const main = await newCertificate('backup', 3072);
const other = await newCertificate('other', 2048);

/** Runs openssl with the password in the environment, never in argv. */
function openssl(args: string[]): void {
  execFileSync('openssl', args, { env: { ...process.env, PFX_PASSWORD: PASSWORD }, stdio: 'ignore' });
}

/** The .pfx's key and certificate as PEM files, for openssl to re-package. */
function unpack(pfxPath: string): { keyPem: string; certPem: string } {
  const keyPem = `${pfxPath}.key.pem`;
  const certPem = `${pfxPath}.cert.pem`;
  openssl(['pkcs12', '-in', pfxPath, '-passin', 'env:PFX_PASSWORD', '-nocerts', '-nodes', '-out', keyPem]);
  openssl(['pkcs12', '-in', pfxPath, '-passin', 'env:PFX_PASSWORD', '-clcerts', '-nokeys', '-out', certPem]);
  return { keyPem, certPem };
}

function assertReason(error: unknown, reason: Parameters<typeof isAzsError>[1], parameter: string): boolean {
  assert.ok(isAzsError(error, reason), `expected ${reason}, got ${String(error)}`);
  assert.equal(error.parameter, parameter);
  assert.ok(!error.message.includes(PASSWORD), 'the message never holds the password');
  return true;
}

describe('backup key wrapping', () => {
  it('makes a fresh 256-bit key every time', () => {
    const first = generateBackupKey();
    assert.equal(first.length, 32);
    assert.notDeepEqual(first, generateBackupKey());
  });

  it('wraps a key for the certificate and unwraps it with the .pfx written by New-AzsBackupEncryptionCertificate', () => {
    const key = generateBackupKey();
    const wrapped = wrapKey(key, main.certificate.pem);
    assert.equal(Buffer.from(wrapped, 'base64').length, 384, 'RSA-3072 ciphertext, base64');
    assert.notEqual(wrapKey(key, main.certificate.pem), wrapped, 'OAEP is randomised');
    const decryption = readPfx(readFileSync(main.pfxPath), PASSWORD, main.pfxPath);
    assert.equal(decryption.thumbprint, main.certificate.thumbprint);
    assert.match(decryption.thumbprint, /^[0-9A-F]{40}$/);
    assert.deepEqual(unwrapKey(wrapped, main.certificate.thumbprint, decryption, BACKUP), key);
  });

  it('names the certificate a backup needs when another .pfx is given', () => {
    const wrapped = wrapKey(generateBackupKey(), main.certificate.pem);
    const wrong = readPfx(readFileSync(other.pfxPath), PASSWORD, other.pfxPath);
    assert.throws(
      () => unwrapKey(wrapped, main.certificate.thumbprint, wrong, BACKUP),
      (error: unknown) =>
        assertReason(error, 'DecryptionCertificateMismatch', 'DecryptionCertPath') &&
        (error as Error).message.includes(BACKUP) &&
        (error as Error).message.includes(main.certificate.thumbprint) &&
        (error as Error).message.includes(other.certificate.thumbprint),
    );
  });

  it('reports a damaged wrapped key as a damaged backup, not as a wrong certificate', () => {
    const wrapped = Buffer.from(wrapKey(generateBackupKey(), main.certificate.pem), 'base64');
    wrapped[10]! ^= 1;
    const decryption = readPfx(readFileSync(main.pfxPath), PASSWORD, main.pfxPath);
    assert.throws(
      () => unwrapKey(wrapped.toString('base64'), main.certificate.thumbprint, decryption, BACKUP),
      (error: unknown) => isAzsError(error, 'BackupCorrupt') && error.message.includes(BACKUP),
    );
  });
});

describe('reading a .pfx', () => {
  it('refuses a wrong password, naming -DecryptionCertPassword', () => {
    assert.throws(
      () => readPfx(readFileSync(main.pfxPath), 'not-the-password', main.pfxPath),
      (error: unknown) =>
        assertReason(error, 'DecryptionFailed', 'DecryptionCertPassword') &&
        /DecryptionCertPassword/.test((error as Error).message),
    );
  });

  it('refuses files that are not a .pfx', () => {
    const notPfx = [
      readFileSync(path.join(folder, 'backup.cer')),
      randomBytes(2000),
      Buffer.from('hello'),
      Buffer.alloc(0),
    ];
    for (const content of notPfx) {
      assert.throws(
        () => readPfx(content, PASSWORD, 'x.pfx'),
        (error: unknown) => assertReason(error, 'CertificateInvalid', 'DecryptionCertPath'),
      );
    }
  });

  it('refuses a .pfx that holds no private key', () => {
    const certificate = forge.pki.certificateFromPem(main.certificate.pem);
    const asn1 = forge.pkcs12.toPkcs12Asn1(null, [certificate], PASSWORD, { algorithm: 'aes256' });
    const pfx = Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
    assert.throws(
      () => readPfx(pfx, PASSWORD, 'cert-only.pfx'),
      (error: unknown) =>
        assertReason(error, 'CertificateInvalid', 'DecryptionCertPath') &&
        /no private key/.test((error as Error).message),
    );
  });

  it('reads .pfx files protected with 3DES, with OpenSSL 3 defaults, and with a certificate chain', () => {
    const { keyPem, certPem } = unpack(main.pfxPath);
    const otherPem = unpack(other.pfxPath).certPem;
    const variants: Record<string, string[]> = {
      '3des': ['-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1'],
      'openssl-default': [],
      chain: ['-certfile', otherPem],
    };
    for (const [name, extra] of Object.entries(variants)) {
      const pfxPath = path.join(folder, `${name}.pfx`);
      openssl([
        'pkcs12',
        '-export',
        '-inkey',
        keyPem,
        '-in',
        certPem,
        '-passout',
        'env:PFX_PASSWORD',
        '-out',
        pfxPath,
        ...extra,
      ]);
      const decryption = readPfx(readFileSync(pfxPath), PASSWORD, pfxPath);
      assert.equal(decryption.thumbprint, main.certificate.thumbprint, name);
    }
  });
});
