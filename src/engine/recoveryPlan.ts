/**
 * What a restore would do, decided before anything is read: the roles selected, and whose
 * registration restores each. A backup this deployment did not write restores a role only through
 * this deployment's own registration of it (same name, same provider); any role whose registration
 * would come from the backup needs the operator's AcceptBackupRoles.
 */
import { createHash } from 'node:crypto';
import { holdsData, type BackupManifest } from '../archive/manifest.js';
import { AzsError } from '../protocol/errors.js';
import type { RestorePlanRole, Role } from '../protocol/objects.js';
import type { StoredBackup } from './catalog.js';

export type ManifestRole = BackupManifest['Roles'][number];

/** One role name or several, as backup.restore and backup.restorePlan take them; none for every role. */
export type RoleNames = string | string[] | undefined;

/** How one role of a backup would be restored. */
export interface RolePlan {
  role: ManifestRole;
  /** The registration the restore uses: this deployment's, or the backup's (then adopted). */
  registration: Role;
  source: RestorePlanRole['Registration'];
  requiresAcceptance: boolean;
}

/**
 * Whose registration restores each role. A registered role of the same name is restored through its
 * current registration (for a backup not known here, only when the provider is the same too); any
 * other role's registration comes from the backup, which for an unknown backup needs acceptance.
 */
export function planRoles(selected: ManifestRole[], registered: Role[], isKnown: boolean): RolePlan[] {
  return selected.map((role) => {
    const recorded = role.Registration as Role;
    const current = registered.find(
      (candidate) => candidate.Name.toLowerCase() === recorded.Name.toLowerCase(),
    );
    if (current && (isKnown || current.Provider === recorded.Provider))
      return { role, registration: current, source: 'Registered', requiresAcceptance: false };
    return { role, registration: recorded, source: 'Backup', requiresAcceptance: !isKnown };
  });
}

function sha256OfScript(script: string | null): string | null {
  return script === null ? null : createHash('sha256').update(script, 'utf8').digest('hex');
}

export function describePlan(plan: RolePlan): RestorePlanRole {
  const { registration } = plan;
  return {
    RoleName: registration.Name,
    Provider: registration.Provider,
    Path: registration.Path,
    BackupScriptSha256: sha256OfScript(registration.BackupScript),
    RestoreScriptSha256: sha256OfScript(registration.RestoreScript),
    Registration: plan.source,
    RequiresAcceptance: plan.requiresAcceptance,
  };
}

/** "CA (Directory, path '/srv/ca')" or "ECE (PowerShell, BackupScript SHA-256 …, RestoreScript SHA-256 …)". */
function roleSummary(role: RestorePlanRole): string {
  const facts: string[] = [role.Provider];
  if (role.Path !== null) facts.push(`path '${role.Path}'`);
  if (role.BackupScriptSha256) facts.push(`BackupScript SHA-256 ${role.BackupScriptSha256}`);
  if (role.RestoreScriptSha256) facts.push(`RestoreScript SHA-256 ${role.RestoreScriptSha256}`);
  return `${role.RoleName} (${facts.join(', ')})`;
}

/** Stops a restore that would adopt registrations from an unknown backup without the operator's word. */
export function refuseUnaccepted(backup: StoredBackup, plans: RolePlan[], accepted: boolean): void {
  const unaccepted = plans.filter((plan) => plan.requiresAcceptance);
  if (accepted || !unaccepted.length) return;
  throw new AzsError(
    'RolesNotAccepted',
    `Backup ${backup.manifest.BackupId} is not known to this deployment (this deployment did not write it, or its manifest changed since), and restoring it would take these roles' registrations from the backup: ${unaccepted.map((plan) => roleSummary(describePlan(plan))).join('; ')}. A PowerShell role's scripts would run as the daemon's account, and a role's data would be written to the path above. Nothing was restored. Review the roles with Restore-AzsBackup -WhatIf, then run the restore again with -AcceptBackupRoles to accept them.`,
    { parameter: 'AcceptBackupRoles', target: backup.manifest.BackupId },
  );
}

/** The roles named (each once, whatever its case), or every role that holds data. */
export function selectRoles(manifest: BackupManifest, roleNames: RoleNames): ManifestRole[] {
  const names = [roleNames ?? []].flat();
  if (!names.length) return manifest.Roles.filter(holdsData);
  const lowered = names.map((name) => name.toLowerCase());
  return names
    .filter((name, index) => lowered.indexOf(name.toLowerCase()) === index)
    .map((name) => selectRole(manifest, name));
}

function selectRole(manifest: BackupManifest, roleName: string): ManifestRole {
  const role = manifest.Roles.find(
    (candidate) => candidate.Registration.Name.toLowerCase() === roleName.toLowerCase(),
  );
  if (!role) {
    throw new AzsError(
      'RoleNotFound',
      `Backup ${manifest.BackupId} has no role '${roleName}'; it has ${manifest.Roles.map((r) => r.Registration.Name).join(', ')}.`,
      {
        parameter: 'RoleName',
        target: roleName,
      },
    );
  }
  if (!holdsData(role)) {
    throw new AzsError(
      'BackupCorrupt',
      `Role '${roleName}' failed in backup ${manifest.BackupId}, so it holds no data to restore. Choose another backup.`,
      {
        parameter: 'RoleName',
        target: roleName,
      },
    );
  }
  return role;
}
