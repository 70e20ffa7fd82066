/**
 * A strict RFC 5424 parser for tests: one regular expression per rule of the ABNF (section 6), so
 * a message that a receiver could misread fails here. Returns the fields, or throws naming the message.
 */

const PRINTUSASCII = '[\\x21-\\x7e]';
/** SD-NAME: printable US-ASCII except '=', ' ', ']' and '"'. */
const SD_NAME = '[\\x21\\x23-\\x3c\\x3e-\\x5c\\x5e-\\x7e]{1,32}';
/** PARAM-VALUE: any UTF-8 but '"', '\' and ']', which come escaped with a backslash. */
const PARAM_VALUE = '(?:[^"\\\\\\]]|\\\\["\\\\\\]])*';
const SD_PARAM = `${SD_NAME}="${PARAM_VALUE}"`;
const SD_ELEMENT = `\\[${SD_NAME}(?: ${SD_PARAM})*\\]`;
const TIMESTAMP = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d{1,6})?(?:Z|[+-]\\d{2}:\\d{2})';

const SYSLOG_MSG = new RegExp(
  [
    `^<(?<pri>\\d{1,3})>(?<version>[1-9]\\d{0,2})`,
    `(?<timestamp>-|${TIMESTAMP})`,
    `(?<hostname>-|${PRINTUSASCII}{1,255})`,
    `(?<appName>-|${PRINTUSASCII}{1,48})`,
    `(?<procId>-|${PRINTUSASCII}{1,128})`,
    `(?<msgId>-|${PRINTUSASCII}{1,32})`,
    `(?<sd>-|(?:${SD_ELEMENT})+)(?: (?<msg>[\\s\\S]*))?$`,
  ].join(' '),
  'u',
);

export interface SyslogMessage {
  facility: number;
  severity: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  /** Each SD element's parameters, unescaped, by SD-ID. */
  structuredData: Record<string, Record<string, string>>;
  /** MSG without its BOM; `hasBom` tells whether it was there. */
  msg: string;
  hasBom: boolean;
}

function parseStructuredData(sd: string): Record<string, Record<string, string>> {
  if (sd === '-') return {};
  const elements: Record<string, Record<string, string>> = {};
  for (const element of sd.matchAll(new RegExp(`\\[(${SD_NAME})((?: ${SD_PARAM})*)\\]`, 'gu'))) {
    const parameters: Record<string, string> = {};
    for (const [, name, value] of (element[2] ?? '').matchAll(
      new RegExp(` (${SD_NAME})="(${PARAM_VALUE})"`, 'gu'),
    ))
      parameters[name as string] = (value as string).replace(/\\(["\\\]])/g, '$1');
    elements[element[1] as string] = parameters;
  }
  return elements;
}

export function parseRfc5424(text: string): SyslogMessage {
  const groups = SYSLOG_MSG.exec(text)?.groups;
  if (!groups) throw new Error(`not an RFC 5424 message: ${JSON.stringify(text)}`);
  const pri = Number(groups.pri);
  if (pri > 191 || String(pri) !== groups.pri)
    throw new Error(`PRI ${groups.pri} out of range: ${JSON.stringify(text)}`);
  const msg = groups.msg ?? '';
  return {
    facility: Math.floor(pri / 8),
    severity: pri % 8,
    version: Number(groups.version),
    timestamp: groups.timestamp as string,
    hostname: groups.hostname as string,
    appName: groups.appName as string,
    procId: groups.procId as string,
    msgId: groups.msgId as string,
    structuredData: parseStructuredData(groups.sd as string),
    msg: msg.replace(/^\uFEFF/, ''),
    hasBom: msg.startsWith('\uFEFF'),
  };
}
