/**
 * Secrets at rest (the store password): sealed with AES-256-GCM under a random key kept in a file
 * readable only by the daemon's user. This keeps secrets out of every file in clear; on Windows the
 * key file's ACL plays the role DPAPI would (see docs/security.md).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export function sealSecret(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [
    VERSION,
    iv.toString('base64'),
    body.toString('base64'),
    cipher.getAuthTag().toString('base64'),
  ].join(':');
}

export function openSecret(key: Buffer, sealed: string): string {
  const [version, iv, body, tag] = sealed.split(':');
  if (version !== VERSION || !iv || body === undefined || !tag)
    throw new Error('sealed secret has an unknown format');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
}

export function newSecretKey(): Buffer {
  return randomBytes(32);
}
