/** Parsers for what smbclient prints: directory listings, free space, and session facts. */
import { AzsError } from '../protocol/errors.js';
import type { Capacity, SessionInfo, StoreEntry } from './store.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * One `ls` line: two spaces, the name (padded to 30), the attribute letters, the size, and the
 * modification time as ctime prints it in the child's time zone (UTC: see smbclientEnv). The time at
 * the end anchors the match, so names with spaces parse.
 */
const LISTING_LINE =
  /^ {2}(.+?) +([A-Za-z]*) +(\d+) {2}\w{3} (\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * The entry type from smbclient's attribute letters (Samba's attrib_string): 'D' a folder, 'r' a
 * reparse point — how a symbolic link or junction shows on a Windows server, or on Samba when it
 * reports links (SMB3 POSIX extensions) — and 'd' a device. Those two are 'other' even on a folder,
 * so that nothing descends into them.
 */
function entryType(attributes: string): StoreEntry['type'] {
  if (/[rd]/.test(attributes)) return 'other';
  return attributes.includes('D') ? 'directory' : 'file';
}

export function parseListing(output: string): StoreEntry[] {
  const entries: StoreEntry[] = [];
  for (const line of output.split('\n')) {
    const [, name, attributes, size, month, day, hours, minutes, seconds, year] =
      LISTING_LINE.exec(line) ?? [];
    // Every group of LISTING_LINE is mandatory: these are set exactly when the line is a listing line.
    if (name === undefined || attributes === undefined || month === undefined) continue;
    entries.push({
      name,
      type: entryType(attributes),
      size: Number(size),
      modified: new Date(
        Date.UTC(
          Number(year),
          MONTHS.indexOf(month),
          Number(day),
          Number(hours),
          Number(minutes),
          Number(seconds),
        ),
      ),
    });
  }
  return entries;
}

/** "<n> blocks of size <s>. <m> blocks available", which `ls` and `du` print for the share. */
export function parseCapacity(output: string): Capacity {
  const match = /(\d+) blocks of size (\d+)\. (\d+) blocks available/.exec(output);
  if (!match) {
    throw new AzsError(
      'StoreFault',
      "The file server did not report the share's free space. Check that the share allows querying its size.",
    );
  }
  const blockSize = Number(match[2]);
  return { totalBytes: Number(match[1]) * blockSize, availableBytes: Number(match[3]) * blockSize };
}

/**
 * The dialect from "negotiated dialect[SMB3_11]" and, for the messages after the tree connect (the
 * ones that carry file operations), whether they were encrypted or signed. Encryption in SMB 3 also
 * authenticates every message, so an encrypted session counts as signed.
 */
export function parseSessionInfo(debugOutput: string): SessionInfo {
  const dialect = /negotiated dialect\[([A-Z0-9_]+)\]/.exec(debugOutput);
  const afterTreeConnect = debugOutput.slice(Math.max(0, debugOutput.indexOf('tconx ok')));
  const encrypted = /Encrypted SMB2 message/.test(afterTreeConnect);
  return {
    protocol: dialect?.[1] ?? 'unknown',
    encrypted,
    signed: encrypted || /signed SMB2 message/.test(afterTreeConnect),
  };
}
