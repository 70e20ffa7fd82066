/**
 * The RoleStoredNothing alert's condition. A role that stores nothing carries a warning on its status
 * in every backup; one that stores nothing in the newest backup although an earlier backup on the
 * store holds its data is a script or folder gone wrong (a backup script writing outside its staging
 * folder, a data folder moved), and the newest backup — the one that looks ready for cloud recovery,
 * and that retention keeps — would bring nothing back for it. The condition lasts while that holds, so
 * a second empty backup does not close the alert; a role that never had data does not raise it.
 */
import type { BackupManifest } from '../archive/manifest.js';
import { DAY_MS } from '../util/clock.js';

/**
 * The alert's description, or null when the condition does not hold: `known` are the backups this
 * deployment wrote, newest first; `retentionDays` says when the earlier data goes.
 */
export function emptiedRolesCondition(known: BackupManifest[], retentionDays: number): string | null {
  const [newest, ...earlier] = known;
  if (!newest) return null;
  const succeeded = new Set(
    newest.RoleStatus.filter((role) => role.Status === 'Succeeded').map((role) => role.RoleName),
  );
  const emptied = newest.Roles.filter(
    (role) => role.Entries === 0 && succeeded.has(role.Registration.Name),
  ).flatMap(({ Registration: { Name } }) => {
    const holder = earlier.find((backup) =>
      backup.Roles.some((role) => role.Registration.Name === Name && role.Entries > 0),
    );
    return holder ? [`role '${Name}' (last stored in backup ${describe(holder, retentionDays)})`] : [];
  });
  if (!emptied.length) return null;
  return (
    `Backup ${newest.BackupId} (${newest.CreatedDateTime}) stored nothing for ${emptied.join(', ')}. ` +
    "Each role's ErrorMessage in Get-AzsBackup says where to look."
  );
}

/** A backup by id and time, with the day retention may delete it. */
function describe(backup: BackupManifest, retentionDays: number): string {
  const deletable = new Date(Date.parse(backup.CreatedDateTime) + retentionDays * DAY_MS);
  return `${backup.BackupId} of ${backup.CreatedDateTime}, which retention deletes after ${deletable.toISOString()}`;
}
