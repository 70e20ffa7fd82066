/**
 * Parsing of SMB store locations and logon names, and the rules for names that smbclient's command
 * language can carry. Pure functions: no process, no network.
 */
import { AzsError } from '../protocol/errors.js';
import { StoreError } from './storeError.js';
import { hasControlCharacters } from '../util/text.js';

/** Where an SMB store is: `\\server[:port]\share\folder\...` or `//server[:port]/share/folder/...`. */
export interface SmbLocation {
  /** Host name, IPv4 address or IPv6 address (without brackets). */
  host: string;
  port: number | null;
  share: string;
  /** The store's root folder inside the share, as path components (empty: the share's root). */
  folder: string[];
}

/** Who logs on: `DOMAIN\user`, `user@domain` or `user`. */
export interface SmbLogon {
  user: string;
  /** `DOMAIN` of `DOMAIN\user` or `domain` of `user@domain` (NTLM takes either form); null for `user`. */
  domain: string | null;
}

const BAD_SETTING = { backend: 'share', finding: 'bad-setting' } as const;
const SERVER = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\\/:[\]]+))(?::(\d{1,5}))?$/;

/** Parses a share path; anything that is not `\\server\share[\folder...]` is an InvalidParameter. */
export function parseSmbLocation(storePath: string): SmbLocation {
  const invalid = (why: string): AzsError =>
    new StoreError(
      'InvalidParameter',
      `'${storePath}' is not a usable share path: ${why}. Write it as \\\\server\\share\\folder (or \\\\server:port\\share\\folder).`,
      { parameter: 'Path', target: storePath, facts: BAD_SETTING },
    );
  if (!/^(\\\\|\/\/)/.test(storePath)) throw invalid('it does not start with \\\\ or //');
  const parts = storePath.slice(2).split(/[\\/]/).filter(Boolean);
  const [serverName, share, ...folder] = parts;
  if (serverName === undefined || share === undefined) throw invalid('it names no share');
  const server = SERVER.exec(serverName);
  if (!server) throw invalid(`'${serverName}' is not a server name, address or [IPv6]:port`);
  const port = server[3] === undefined ? null : Number(server[3]);
  if (port !== null && (port < 1 || port > 65535)) throw invalid(`port ${port} is out of range`);
  for (const part of parts.slice(1)) {
    const problem = nameProblem(part);
    if (problem) throw invalid(`'${part}' ${problem}`);
  }
  // SERVER matched one of its two alternatives, so either the [IPv6] group or the name group is set.
  return { host: (server[1] ?? server[2])!, port, share, folder };
}

/** Splits `DOMAIN\user` and `user@domain` into user and domain (smbclient's -U and -W). */
export function parseSmbLogon(userName: string): SmbLogon {
  const invalid = (why: string): AzsError =>
    new StoreError(
      'InvalidParameter',
      `'${userName}' cannot be used: ${why}. Write DOMAIN\\user, user@domain or user.`,
      { parameter: 'UserName', target: userName, facts: BAD_SETTING },
    );
  // smbclient reads 'user%password' from -U and USER, so a '%' would turn part of the name into a
  // password; '/' is its other domain separator.
  if (hasControlCharacters(userName) || /[%/]/.test(userName))
    throw invalid('it holds % / or a control character');
  const backslash = userName.indexOf('\\');
  const at = userName.lastIndexOf('@');
  const [domain, user] =
    backslash >= 0
      ? [userName.slice(0, backslash), userName.slice(backslash + 1)]
      : at >= 0
        ? [userName.slice(at + 1), userName.slice(0, at)]
        : [null, userName];
  if (!user || domain === '' || user.includes('\\'))
    throw invalid('it needs one user and at most one domain');
  return { user, domain };
}

/**
 * Why a single path component cannot be stored on the share, or null when it can. SMB forbids
 * `\ / : * ? " < > |` and control characters; smbclient's `-c` language splits commands at ';' and
 * has no escape for '"' (names are double-quoted); a trailing space or dot is dropped by Windows.
 */
export function nameProblem(name: string): string | null {
  if (name === '.' || name === '..') return 'is a relative folder reference';
  if (hasControlCharacters(name)) return 'holds a control character';
  if (/[\\/:*?"<>|;]/.test(name)) return 'holds one of \\ / : * ? " < > | ;';
  if (/[ .]$/.test(name)) return 'ends with a space or a dot';
  return null;
}

/** Splits a store-relative path ('/'-separated) into checked components. */
export function splitStorePath(relativePath: string): string[] {
  const parts = relativePath.split('/').filter(Boolean);
  for (const part of parts) {
    const problem = nameProblem(part);
    if (problem) {
      throw new AzsError(
        'InvalidParameter',
        `The store path '${relativePath}' cannot be used on an SMB share: '${part}' ${problem}.`,
        {
          target: relativePath,
        },
      );
    }
  }
  return parts;
}

/** The `\\host[:port]\share\folder` form used in messages: never holds a secret. */
export function formatSmbLocation(location: SmbLocation): string {
  const host = location.host.includes(':') ? `[${location.host}]` : location.host;
  const port = location.port === null ? '' : `:${location.port}`;
  return ['', '', `${host}${port}`, location.share, ...location.folder].join('\\');
}
