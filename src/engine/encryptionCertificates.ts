/** New-AzsBackupEncryptionCertificate: a self-signed RSA pair made without any certificate store. */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { certificateFileExists, createEncryptionCertificate } from '../crypto/certificates.js';
import { AzsError } from '../protocol/errors.js';
import type { EncryptionCertificate } from '../protocol/objects.js';
import { hasControlCharacters } from '../util/text.js';

export const MIN_NEW_KEY_BITS = 3072;

/** New-AzsBackupEncryptionCertificate's request. */
export interface NewCertificateRequest {
  Subject: string;
  CerPath: string;
  PfxPath: string;
  PfxPassword: string;
  ValidityYears: number;
  KeySize?: number;
  /** Replace an existing .cer or .pfx; without it an existing file is refused. */
  Overwrite?: boolean;
}

export async function newEncryptionCertificate(
  params: NewCertificateRequest,
): Promise<EncryptionCertificate> {
  const keySize = params.KeySize ?? MIN_NEW_KEY_BITS;
  if (keySize < MIN_NEW_KEY_BITS || keySize > 8192 || keySize % 1024 !== 0) {
    throw new AzsError(
      'InvalidRange',
      `KeySize must be a multiple of 1024 between ${MIN_NEW_KEY_BITS} and 8192 (got ${keySize}).`,
      { parameter: 'KeySize' },
    );
  }
  if (params.ValidityYears > 50) {
    throw new AzsError(
      'InvalidRange',
      `ValidityYears must be between 1 and 50 (got ${params.ValidityYears}).`,
      { parameter: 'ValidityYears' },
    );
  }
  for (const [parameter, file] of [
    ['CerPath', params.CerPath],
    ['PfxPath', params.PfxPath],
  ] as const) {
    await checkWritableTarget(parameter, file, params.Overwrite ?? false);
  }
  const certificate = await createEncryptionCertificate({
    subject: params.Subject,
    cerPath: params.CerPath,
    pfxPath: params.PfxPath,
    pfxPassword: params.PfxPassword,
    validityYears: params.ValidityYears,
    keySize,
    overwrite: params.Overwrite ?? false,
  });
  return {
    Thumbprint: certificate.thumbprint,
    Subject: certificate.subject,
    NotAfter: certificate.notAfter.toISOString(),
    CerPath: params.CerPath,
    PfxPath: params.PfxPath,
  };
}

/** Checked before a key is made, so that a refusal leaves nothing behind. */
async function checkWritableTarget(
  parameter: 'CerPath' | 'PfxPath',
  file: string,
  overwrite: boolean,
): Promise<void> {
  if (!path.isAbsolute(file) || hasControlCharacters(file)) {
    throw new AzsError('InvalidParameter', `${parameter} '${file}' must be an absolute file path.`, {
      parameter,
      target: file,
    });
  }
  const folder = await stat(path.dirname(file)).catch(() => null);
  if (!folder?.isDirectory()) {
    throw new AzsError(
      'PathNotFound',
      `${parameter}: the folder '${path.dirname(file)}' does not exist. Create it first.`,
      { parameter, target: file },
    );
  }
  const existing = await stat(file).catch(() => null);
  if (existing?.isDirectory()) {
    throw new AzsError('InvalidParameter', `${parameter} '${file}' is a folder; give a file name.`, {
      parameter,
      target: file,
    });
  }
  if (existing && !overwrite) throw certificateFileExists(parameter, file);
}
