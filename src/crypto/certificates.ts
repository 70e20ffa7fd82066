/**
 * Encryption certificates: reading the public .cer an operator supplies (DER or PEM), refusing
 * anything that carries a private key, and creating a self-signed pair (.cer + .pfx).
 */
import { X509Certificate, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import forge from 'node-forge';
import { AzsError } from '../protocol/errors.js';
import { DAY_MS } from '../util/clock.js';
import { FileTooLarge, NotARegularFile, readBoundedFile } from '../util/regularFile.js';

export interface PublicCertificate {
  /** SHA-1 of the DER encoding, 40 upper-case hex digits, as Windows shows thumbprints. */
  thumbprint: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  /** The certificate itself in PEM: what the engine keeps to wrap backup keys. */
  pem: string;
}

export const MIN_RSA_BITS = 2048;

export function thumbprintOf(der: Buffer): string {
  return createHash('sha1').update(der).digest('hex').toUpperCase();
}

/** Parses a certificate from memory; `parameter` names the cmdlet parameter in errors. */
export function parsePublicCertificate(
  content: Buffer,
  source: string,
  parameter: string,
): PublicCertificate {
  const text = content.toString('latin1');
  if (/-----BEGIN (?:[A-Z ]+ )?PRIVATE KEY-----/.test(text) || looksLikePkcs12(content)) {
    throw new AzsError(
      'CertificateHasPrivateKey',
      `${parameter} '${source}' holds a private key (a .pfx or key file). Give the public certificate only: export it as a .cer file (DER or Base-64) without the private key.`,
      { parameter, target: source },
    );
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(content);
  } catch {
    throw new AzsError(
      'CertificateInvalid',
      `${parameter} '${source}' is not an X.509 certificate. Give a .cer file in DER or Base-64 (PEM) encoding, for example one written by New-AzsBackupEncryptionCertificate.`,
      { parameter, target: source },
    );
  }
  const key = certificate.publicKey;
  if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) {
    throw new AzsError(
      'CertificateInvalid',
      `${parameter} '${source}' must hold an RSA public key of at least ${MIN_RSA_BITS} bits; create one with New-AzsBackupEncryptionCertificate.`,
      { parameter, target: source },
    );
  }
  return {
    thumbprint: thumbprintOf(certificate.raw),
    subject: certificate.subject.replace(/\n/g, ', '),
    notBefore: new Date(certificate.validFrom),
    notAfter: new Date(certificate.validTo),
    pem: certificate.toString(),
  };
}

/** A PKCS#12 file is a DER SEQUENCE whose first element is INTEGER 3 (the version). */
function looksLikePkcs12(content: Buffer): boolean {
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(content.toString('binary')), false);
    const first = Array.isArray(asn1.value) ? asn1.value[0] : undefined;
    return (
      first !== undefined &&
      first.type === forge.asn1.Type.INTEGER &&
      typeof first.value === 'string' &&
      first.value === '\u0003' &&
      Array.isArray(asn1.value) &&
      asn1.value.length >= 2
    );
  } catch {
    return false;
  }
}

export async function readPublicCertificate(file: string, parameter: string): Promise<PublicCertificate> {
  const content = await readCertificateFile(file, parameter, "the encryption certificate's .cer file");
  return parsePublicCertificate(content, file, parameter);
}

/**
 * The most a certificate file may hold. A .cer is 1–2 KiB and a .pfx with its key and a chain of a
 * few certificates some 10 KiB: 1 MiB is ample, and bounds what a wrong path can cost.
 */
export const MAX_CERTIFICATE_FILE_BYTES = 1024 * 1024;

/**
 * The bytes of a certificate file (.cer or .pfx) an operator names with `parameter`: it must be a
 * regular file (a FIFO is opened without blocking and refused, a device such as /dev/zero is
 * refused) of at most MAX_CERTIFICATE_FILE_BYTES. `what` names the file expected, for the fix.
 */
export async function readCertificateFile(file: string, parameter: string, what: string): Promise<Buffer> {
  try {
    return await readBoundedFile(file, MAX_CERTIFICATE_FILE_BYTES);
  } catch (error) {
    const detail = { parameter, target: file, cause: error };
    if (error instanceof NotARegularFile) {
      throw new AzsError(
        'CertificateNotAFile',
        `${parameter} '${file}' is ${error.kind}, not a file. Give the path of ${what}.`,
        detail,
      );
    }
    if (error instanceof FileTooLarge) {
      throw new AzsError(
        'CertificateTooLarge',
        `${parameter} '${file}' holds more than ${MAX_CERTIFICATE_FILE_BYTES / 1024} KiB, far more than a certificate file does. Give the path of ${what}.`,
        detail,
      );
    }
    const code = (error as NodeJS.ErrnoException).code;
    throw new AzsError(
      'CertificateNotFound',
      code === 'ENOENT'
        ? `${parameter} '${file}' does not exist. Give the path of ${what}.`
        : `${parameter} '${file}' cannot be read (${code}). Check the path and its permissions.`,
      detail,
    );
  }
}

export interface NewCertificateRequest {
  subject: string;
  cerPath: string;
  pfxPath: string;
  pfxPassword: string;
  validityYears: number;
  keySize: number;
  /** Replace existing files; otherwise a file that exists (even one that appears meanwhile) is never touched. */
  overwrite?: boolean;
}

/** The refusal to replace an existing certificate file: a .pfx may be the only key to earlier backups. */
export function certificateFileExists(parameter: 'CerPath' | 'PfxPath', file: string): AzsError {
  return new AzsError(
    'CertificateFileExists',
    `${parameter} '${file}' already exists and is not replaced: a .pfx may be the only key to earlier backups. Choose another path, or run New-AzsBackupEncryptionCertificate with -Force to replace it.`,
    { parameter, target: file },
  );
}

/**
 * Creates a self-signed RSA certificate. The key pair comes from Node's native generator (forge's
 * pure-JS RSA takes many seconds at 3072 bits); forge builds the certificate and the PKCS#12.
 */
export async function createEncryptionCertificate(
  request: NewCertificateRequest,
): Promise<PublicCertificate> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: request.keySize });
  const forgePrivate = forge.pki.privateKeyFromPem(
    privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  );
  const forgePublic = forge.pki.publicKeyFromPem(
    publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  );
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forgePublic;
  certificate.serialNumber = `01${randomBytes(15).toString('hex')}`;
  const now = new Date();
  certificate.validity.notBefore = new Date(now.getTime() - 5 * 60 * 1000);
  certificate.validity.notAfter = new Date(now.getTime() + request.validityYears * 365.25 * DAY_MS);
  const attributes = parseDistinguishedName(request.subject);
  certificate.setSubject(attributes);
  certificate.setIssuer(attributes);
  certificate.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', keyEncipherment: true, dataEncipherment: true },
  ]);
  certificate.sign(forgePrivate, forge.md.sha256.create());
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(certificate)).getBytes(), 'binary');
  const pkcs12 = forge.pkcs12.toPkcs12Asn1(forgePrivate, [certificate], request.pfxPassword, {
    algorithm: 'aes256',
  });
  const pfx = Buffer.from(forge.asn1.toDer(pkcs12).getBytes(), 'binary');
  // The .pfx first: if a file appears at either path meanwhile, no .cer without its .pfx is left.
  await writeCertificateFile('PfxPath', request.pfxPath, pfx, 0o600, request.overwrite);
  await writeCertificateFile('CerPath', request.cerPath, der, 0o644, request.overwrite);
  return parsePublicCertificate(der, request.cerPath, 'CerPath');
}

async function writeCertificateFile(
  parameter: 'CerPath' | 'PfxPath',
  file: string,
  data: Buffer,
  mode: number,
  overwrite = false,
): Promise<void> {
  try {
    // 'wx' creates the file only if nothing has its name: the check and the creation are one step.
    await writeFile(file, data, { mode, flag: overwrite ? 'w' : 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw certificateFileExists(parameter, file);
    throw error;
  }
}

/** "CN=AzureStackBackup, O=Contoso" → forge attributes; refuses attributes forge cannot name. */
function parseDistinguishedName(subject: string): forge.pki.CertificateField[] {
  return subject.split(/\s*,\s*/).map((part) => {
    const match = /^([A-Za-z]+)=(.+)$/.exec(part.trim());
    if (!match) {
      throw new AzsError(
        'InvalidParameter',
        `Subject '${subject}' is not a distinguished name such as 'CN=AzureStackBackup, O=Contoso'.`,
        {
          parameter: 'Subject',
        },
      );
    }
    return { shortName: match[1]!.toUpperCase(), value: match[2]! };
  });
}
