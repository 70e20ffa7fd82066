/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): the receiver recomputes
 * HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>" with the shared key and compares it to
 * the `v1,` value of `webhook-signature`.
 */
import { createHmac } from 'node:crypto';

const STANDARD_PREFIX = 'whsec_';

/**
 * The HMAC key of a secret: a `whsec_<base64>` secret (as Standard Webhooks libraries generate them)
 * signs with the bytes its base64 part decodes to; any other text signs with its UTF-8 bytes, as a
 * receiver that was given a plain password expects.
 */
export function signingKey(secret: string): Buffer {
  return secret.startsWith(STANDARD_PREFIX)
    ? Buffer.from(secret.slice(STANDARD_PREFIX.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

/** Whether a secret that claims the `whsec_` form really holds base64 (else it would sign with garbage). */
export function isWellFormedSecret(secret: string): boolean {
  if (!secret.startsWith(STANDARD_PREFIX)) return secret.length > 0;
  const encoded = secret.slice(STANDARD_PREFIX.length);
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(encoded) && encoded !== '';
}

/** The `webhook-signature` header value for one attempt. */
export function signature(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', signingKey(secret))
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest('base64');
  return `v1,${mac}`;
}

/** The headers that identify and (with a secret) sign one attempt of a message. */
export function webhookHeaders(
  id: string,
  timestampSeconds: number,
  body: string,
  secret: string | null,
): Record<string, string> {
  const headers: Record<string, string> = {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
  };
  if (secret) headers['webhook-signature'] = signature(secret, id, timestampSeconds, body);
  return headers;
}
