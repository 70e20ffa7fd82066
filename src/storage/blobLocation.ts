/**
 * Where a blob container is and how to sign in to it, from the store settings: `-Path` is the
 * container's URL (`https://<account>.blob.core.windows.net/<container>[/<prefix>]`, or an
 * endpoint that puts the account in the path, as Azurite does at `http://127.0.0.1:<port>/<account>/
 * <container>`); `-Password` holds a SAS token or the account key, `-UserName` the account name
 * where a key is used (else the account named by the URL).
 */
import { isIP } from 'node:net';
import type { StoreSettings } from './store.js';
import { StoreError } from './storeError.js';

export interface BlobLocation {
  /** The container's URL without any query: never a secret. */
  containerUrl: string;
  account: string;
  container: string;
  /** The store's root inside the container: '' or a blob name prefix ending in '/'. */
  prefix: string;
  https: boolean;
}

export type BlobCredential =
  | { kind: 'sas'; token: string; expires: Date | null }
  | { kind: 'key'; account: string; key: string }
  | { kind: 'anonymous' };

/** `http://` or `https://`: a blob container reached over its REST endpoint. */
export function isBlobPath(storePath: string): boolean {
  return /^https?:\/\//i.test(storePath);
}

/** The location of `settings.path`; plain HTTP is refused where the settings require encryption. */
export function blobLocationOf(settings: StoreSettings): BlobLocation {
  const location = parseBlobLocation(settings.path);
  if (settings.requireEncryption && !location.https) {
    throw new StoreError(
      'InvalidParameter',
      `is set, and '${settings.path}' is plain HTTP, which is not encrypted: give the https:// URL.`,
      {
        parameter: 'RequireEncryption',
        target: settings.path,
        facts: { backend: 'container', finding: 'bad-setting' },
      },
    );
  }
  return location;
}

export function parseBlobLocation(storePath: string): BlobLocation {
  let url: URL;
  try {
    url = new URL(storePath);
  } catch {
    throw badPath(storePath, 'is not a valid URL');
  }
  if (url.search || url.username || url.password) {
    // Named without its query and user part: they may hold a SAS signature or a key.
    throw badPath(
      `${url.protocol}//${url.host}${url.pathname}`,
      'must not carry a query or a user: give the SAS token or key as the password',
    );
  }
  const names = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  // An IP address or localhost cannot name the account as a host does: the path names it first.
  const pathStyle = isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0 || url.hostname === 'localhost';
  const account = pathStyle ? names.shift() : url.hostname.split('.')[0];
  const container = names.shift();
  if (!account || !container) {
    throw badPath(storePath, 'names no container (https://<account>.blob.core.windows.net/<container>)');
  }
  const accountPath = pathStyle ? `/${encodeURIComponent(account)}` : '';
  return {
    containerUrl: `${url.origin}${accountPath}/${encodeURIComponent(container)}`,
    account,
    container,
    prefix: names.map((name) => `${name}/`).join(''),
    https: url.protocol === 'https:',
  };
}

/** A password with a SAS signature (`sig=`) is a SAS token; any other is the account key. */
export function parseBlobCredential(settings: StoreSettings, location: BlobLocation): BlobCredential {
  const secret = settings.password?.trim();
  if (!secret) return { kind: 'anonymous' };
  const token = secret.replace(/^\?/, '');
  const query = new URLSearchParams(token);
  if (query.has('sig')) {
    const expiry = query.get('se');
    const expires = expiry ? new Date(expiry) : null;
    return { kind: 'sas', token, expires: expires && !Number.isNaN(expires.getTime()) ? expires : null };
  }
  return { kind: 'key', account: settings.userName ?? location.account, key: secret };
}

function badPath(storePath: string, problem: string): StoreError {
  return new StoreError('InvalidParameter', `'${storePath}' ${problem}.`, {
    parameter: 'Path',
    target: storePath,
    facts: { backend: 'container', finding: 'bad-setting' },
  });
}
