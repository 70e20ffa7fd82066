/** Machine- and human-readable descriptions of the protocol, generated from its one definition. */
import { ErrorTable } from './errors.js';
import { CONNECTION_LIMITS, JSONRPC_VERSION, MAX_MESSAGE_BYTES, Notifications } from './jsonrpc.js';
import { Methods } from './methods.js';

export function protocolDescription() {
  return {
    methods: Object.fromEntries(
      Object.entries(Methods).map(([name, definition]) => [name, definition.description]),
    ),
    notifications: Notifications,
    errors: Object.fromEntries(
      Object.entries(ErrorTable).map(([reason, entry]) => [
        reason,
        { code: entry.code, id: `AzsBackup.${reason}`, category: entry.category },
      ]),
    ),
  };
}

function paramsOf(schema: {
  properties?: Record<string, { type?: string; anyOf?: unknown[] }>;
  required?: string[];
}): string {
  const entries = Object.entries(schema.properties ?? {});
  if (!entries.length) return '—';
  const required = new Set(schema.required ?? []);
  return entries
    .map(
      ([name, property]) =>
        `\`${name}\`${required.has(name) ? '' : '?'}: ${property.type ?? (property.anyOf ? 'union' : 'object')}`,
    )
    .join(', ');
}

export function rpcMarkdown(): string {
  const methods = Object.entries(Methods)
    .map(
      ([name, definition]) =>
        `| \`${name}\` | ${paramsOf(definition.params as never)} | ${definition.description} |`,
    )
    .join('\n');
  const errors = Object.entries(ErrorTable)
    .map(
      ([reason, entry]) => `| ${entry.code} | \`${reason}\` | \`AzsBackup.${reason}\` | ${entry.category} |`,
    )
    .join('\n');
  return `# The daemon's RPC contract

Generated from \`src/protocol\` by \`npm run build\`; do not edit by hand.

## Transport
- JSON-RPC ${JSONRPC_VERSION}, one JSON message per line (UTF-8, \`\\n\`-terminated), at most ${MAX_MESSAGE_BYTES} bytes a
  line; a longer line is answered with \`MessageTooLarge\` and the connection is closed.
- A Unix domain socket (mode 0600 in a 0700 folder; \`<state>/run/daemon.sock\`, or when that path
  is too long \`$XDG_RUNTIME_DIR/azsbackup-<hash>.sock\`, else \`<tmp>/azsbackup-<uid>/<hash>.sock\`)
  or, on Windows, the named pipe \`\\\\.\\pipe\\azsbackup-<hash>\`. Never TCP. Clients check the socket
  (a socket owned by their user, mode 0600 or stricter) and its folder (a real folder owned by their
  user, no group or other access) before they send anything, and refuse with \`EndpointNotPrivate\`.
- The first request on a connection must be \`session.authenticate\` with the token from
  \`<state>/token\`; any other request before it is answered with \`Unauthorized\` and the connection
  is closed at once (nothing more it sent is handled), as is one that presents a wrong token.
- Limits: a connection that has not authenticated within ${CONNECTION_LIMITS.authenticationTimeoutMs / 1000} s is answered with
  \`AuthenticationTimeout\` and closed; beyond ${CONNECTION_LIMITS.maxConnections} open connections a new one is answered with
  \`TooManyConnections\` and closed. The daemon stops reading a connection while more than
  ${CONNECTION_LIMITS.maxUnsentBytes} bytes of its replies are unsent or ${CONNECTION_LIMITS.maxRequestsInFlight} of its requests are running, and goes on once the
  client has read them: a client that never reads cannot make the daemon hold its replies.
- Parameters are validated against each method's schema before it runs (\`InvalidParameter\`, naming
  the parameter). Secrets (passwords) travel only inside this owner-only socket and are never logged.

## Methods
| Method | Params (\`?\` optional) | Description |
|---|---|---|
${methods}

## Notifications
- \`${Notifications.progress}\` — \`{ requestId, activity, status, percentComplete, roleName? }\`, sent on the
  connection of a long request (\`backup.start\` or \`backup.restore\` with \`Wait\`) while it runs.
  Closing that connection cancels the job.

## Errors
Every error has \`data: { reason, parameter?, target? }\`. The PowerShell module turns \`reason\` into the
error id \`AzsBackup.<reason>\` and the category below.

| Code | Reason | PowerShell error id | ErrorCategory |
|---|---|---|---|
${errors}
`;
}
