/** A machine-readable description of the protocol, for the PowerShell side and docs. */
import { ErrorTable } from './errors.js';
import { Notifications } from './jsonrpc.js';
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
