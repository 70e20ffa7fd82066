/**
 * The environment the daemon and its role scripts run with: an allowlist, so that whatever the
 * caller had in its environment — AZSBACKUP_PFX_PASSWORD, cloud credentials, tokens — does not live
 * on in the daemon (readable in /proc/<pid>/environ for as long as it runs) nor reach a role's
 * script as $env:. Everything the engine, pwsh and Samba's client need is named here.
 */

/**
 * The engine's own settings, which a daemon started by `azsbackup start` or installed as a service
 * takes from the shell that started or installed it.
 */
export const ENGINE_SETTINGS = [
  'AZSBACKUP_HOME',
  'AZSBACKUP_SOCKET',
  'AZSBACKUP_LOG_LEVEL',
  // The format backups are written in: 4 for the deduplicating repository's preview (src/engine/backupRun.ts,
  // writesRepository; `npm run bench -- --incremental` sets it).
  'AZSBACKUP_FORMAT',
] as const;

/** Variables kept by name (compared in upper case: Windows names are case-insensitive). */
const KEPT = new Set<string>([
  ...ENGINE_SETTINGS,
  // Where things are and who runs them.
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'TMPDIR',
  'XDG_RUNTIME_DIR',
  'DOTNET_ROOT',
  // Language and time.
  'LANG',
  'LANGUAGE',
  'TZ',
  // The engine's tuning (DAEMON_ENVIRONMENT in src/cli/daemonProcess.ts).
  'NODE_OPTIONS',
  'MALLOC_ARENA_MAX',
  // A pointer to the Kerberos ticket cache (not a secret) for SMB stores (src/storage/smbClient.ts).
  'KRB5CCNAME',
  // What Windows programs need to run at all (documented, not tested here).
  'SYSTEMROOT',
  'WINDIR',
  'COMSPEC',
  'PATHEXT',
  'TEMP',
  'TMP',
  'USERNAME',
  'USERPROFILE',
  'APPDATA',
  'LOCALAPPDATA',
  'PROGRAMDATA',
  'PROGRAMFILES',
]);

/** Locale categories: LC_ALL, LC_CTYPE and the like. */
const KEPT_PREFIX = 'LC_';

/** The allowlisted part of an environment; nothing else is copied. */
export function allowlistedEnvironment(from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(from)) {
    const upper = name.toUpperCase();
    if (value !== undefined && (KEPT.has(upper) || upper.startsWith(KEPT_PREFIX))) kept[name] = value;
  }
  return kept;
}
