/**
 * Where things live on the external store (SPEC §5):
 * `<Path>/MASBackup/<yyyyMMddTHHmmssZ>/<BackupId>/BackupInfo.json` and `<RoleName>/<RoleName>.azsb`.
 */
export { MANIFEST_FILE_NAME as MANIFEST_NAME } from '../archive/manifest.js';

export const BACKUP_ROOT = 'MASBackup';
export const ROLE_FILE_SUFFIX = '.azsb';

/** "20261126T114523Z": the folder name of the second a backup started, UTC. */
export function timestampFolder(created: Date): string {
  return created
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

export function backupFolder(created: Date, backupId: string): string {
  return `${BACKUP_ROOT}/${timestampFolder(created)}/${backupId}`;
}

/** The stored file of a role, relative to its backup folder. */
export function roleFile(roleName: string): string {
  return `${roleName}/${roleName}${ROLE_FILE_SUFFIX}`;
}

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const TIMESTAMP_FOLDER = /^\d{8}T\d{6}Z$/;
