/**
 * Backup keys: one fresh 256-bit key per backup, wrapped with the encryption certificate's RSA public
 * key (OAEP with SHA-256) so that only the holder of the matching .pfx can unwrap it.
 */
import {
  X509Certificate,
  constants,
  createPrivateKey,
  createPublicKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import forge from 'node-forge';
import { AzsError } from '../protocol/errors.js';
import { thumbprintOf } from './certificates.js';

export const BACKUP_KEY_BYTES = 32;

export function generateBackupKey(): Buffer {
  return randomBytes(BACKUP_KEY_BYTES);
}

/** The backup key encrypted to the certificate's public key, base64. */
export function wrapKey(key: Buffer, certificatePem: string): string {
  const publicKey = new X509Certificate(certificatePem).publicKey;
  return publicEncrypt(
    { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    key,
  ).toString('base64');
}

/** What restore needs from a .pfx: which certificate it is and its private key. */
export interface DecryptionCertificate {
  /** SHA-1 of the certificate's DER, 40 upper-case hex digits. */
  thumbprint: string;
  privateKey: KeyObject;
}

const PFX_PARAMETER = 'DecryptionCertPath';
const PASSWORD_PARAMETER = 'DecryptionCertPassword';

/**
 * Opens a PKCS#12 (.pfx) file: checks its password, finds the private key and the certificate that
 * belongs to it. `source` names the file in messages (its path); the password never appears in one.
 */
export function readPfx(pfx: Buffer, password: string, source: string): DecryptionCertificate {
  const asn1 = parsePkcs12Der(pfx, source);
  const store = openPkcs12(asn1, password, source);
  const privateKey = findPrivateKey(store, source);
  const certificateDer = findCertificateOf(privateKey, store, source);
  return { thumbprint: thumbprintOf(certificateDer), privateKey };
}

function notAPfx(source: string, why: string): AzsError {
  return new AzsError(
    'CertificateInvalid',
    `${PFX_PARAMETER} '${source}' ${why}. Give the .pfx file (PKCS#12 with the private key) that belongs to the backup's encryption certificate, for example the one New-AzsBackupEncryptionCertificate wrote.`,
    { parameter: PFX_PARAMETER, target: source },
  );
}

function parsePkcs12Der(pfx: Buffer, source: string): forge.asn1.Asn1 {
  try {
    return forge.asn1.fromDer(forge.util.createBuffer(pfx.toString('binary')), true);
  } catch {
    throw notAPfx(source, 'is not a PKCS#12 (.pfx) file');
  }
}

function openPkcs12(asn1: forge.asn1.Asn1, password: string, source: string): forge.pkcs12.Pkcs12Pfx {
  try {
    return forge.pkcs12.pkcs12FromAsn1(asn1, true, password);
  } catch (error) {
    const message = error instanceof Error ? error.message : '';
    // forge reports a wrong password as a MAC mismatch (or, without a MAC, as undecryptable bags).
    if (/MAC could not be verified|Invalid password|decrypt/i.test(message)) {
      throw new AzsError(
        'DecryptionFailed',
        `${PASSWORD_PARAMETER} does not open '${source}'. Give the password the .pfx was exported with.`,
        { parameter: PASSWORD_PARAMETER, target: source },
      );
    }
    throw notAPfx(source, `cannot be read as a PKCS#12 file (${message || 'unknown structure'})`);
  }
}

/** The bags of one PKCS#12 type (none when the .pfx holds no bag of that type). */
function bagsOf(
  store: forge.pkcs12.Pkcs12Pfx,
  bagType: 'pkcs8ShroudedKeyBag' | 'keyBag' | 'certBag',
): forge.pkcs12.Bag[] {
  // node-forge's OID registry names every PKCS#12 bag type; a missing one is a broken library.
  const oid = forge.pki.oids[bagType];
  if (oid === undefined) throw new Error(`node-forge does not know the PKCS#12 bag type ${bagType}`);
  return store.getBags({ bagType: oid })[oid] ?? [];
}

function findPrivateKey(store: forge.pkcs12.Pkcs12Pfx, source: string): KeyObject {
  const bags = [...bagsOf(store, 'pkcs8ShroudedKeyBag'), ...bagsOf(store, 'keyBag')];
  const key = bags.find((bag) => bag.key)?.key;
  if (!key) throw notAPfx(source, 'holds no private key (it may be a certificate-only export)');
  try {
    return createPrivateKey(forge.pki.privateKeyToPem(key as forge.pki.rsa.PrivateKey));
  } catch {
    throw notAPfx(source, 'holds a private key that is not an RSA key');
  }
}

/** The DER of the certificate whose public key matches `privateKey` (a .pfx may hold a chain). */
function findCertificateOf(privateKey: KeyObject, store: forge.pkcs12.Pkcs12Pfx, source: string): Buffer {
  const wanted = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const bags = bagsOf(store, 'certBag');
  for (const bag of bags) {
    if (!bag.cert) continue;
    const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(bag.cert)).getBytes(), 'binary');
    const publicKey = new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });
    if (publicKey.equals(wanted)) return der;
  }
  throw notAPfx(source, 'holds no certificate for its private key');
}

/**
 * Recovers the key of `backup` (its Name, for the errors). The backup records the thumbprint of the
 * certificate it was wrapped for, so a wrong .pfx is named as such instead of failing as "cannot
 * decrypt".
 */
export function unwrapKey(
  wrappedKey: string,
  requiredThumbprint: string,
  certificate: DecryptionCertificate,
  backup: string,
): Buffer {
  if (certificate.thumbprint.toUpperCase() !== requiredThumbprint.toUpperCase()) {
    throw new AzsError(
      'DecryptionCertificateMismatch',
      `Backup ${backup} was encrypted for the certificate with thumbprint ${requiredThumbprint.toUpperCase()}, but the .pfx given holds ${certificate.thumbprint}. Give the .pfx of certificate ${requiredThumbprint.toUpperCase()} in ${PFX_PARAMETER}.`,
      { parameter: PFX_PARAMETER, target: requiredThumbprint },
    );
  }
  let key: Buffer;
  try {
    key = privateDecrypt(
      { key: certificate.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(wrappedKey, 'base64'),
    );
  } catch {
    throw wrappedKeyDamaged(requiredThumbprint, backup);
  }
  if (key.length !== BACKUP_KEY_BYTES) throw wrappedKeyDamaged(requiredThumbprint, backup);
  return key;
}

function wrappedKeyDamaged(thumbprint: string, backup: string): AzsError {
  return new AzsError(
    'BackupCorrupt',
    `The wrapped key of backup ${backup} cannot be decrypted with certificate ${thumbprint.toUpperCase()} although the thumbprints match: BackupInfo.json was changed or damaged. Restore another backup.`,
    { target: 'BackupInfo.json' },
  );
}
