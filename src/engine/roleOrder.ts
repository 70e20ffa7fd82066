/**
 * Which roles a backup starts first. Roles run a few at a time, so a long role started last runs
 * alone at the end with cores idle: on the 2-core test machine the large Images role, registered
 * fifth, ran alone for half its time. Starting the roles that took longest in the previous backup
 * first (longest-processing-time scheduling) keeps the slots busy to the end.
 */
import type { Role } from '../protocol/objects.js';
import type { RoleSeconds } from '../state/roleTimings.js';

/**
 * Indexes of `roles` in the order to start them: roles never timed first (their cost is unknown, so
 * they get the most time to finish), in registration order; then the timed ones, longest first.
 */
export function startOrder(roles: readonly Role[], lastSeconds: RoleSeconds): number[] {
  const secondsOf = (index: number) => lastSeconds[roles[index]!.Name] ?? Number.POSITIVE_INFINITY;
  return roles.map((_, index) => index).sort((a, b) => secondsOf(b) - secondsOf(a) || a - b);
}

/**
 * The timings to keep after a backup: this backup's for the roles it stored, the earlier ones for
 * roles that failed this time, nothing for roles no longer registered.
 */
export function nextTimings(
  roles: readonly Role[],
  lastSeconds: RoleSeconds,
  thisBackup: ReadonlyArray<number | null>,
): RoleSeconds {
  const timings: RoleSeconds = {};
  roles.forEach((role, index) => {
    const seconds = thisBackup[index] ?? lastSeconds[role.Name];
    if (seconds !== undefined) timings[role.Name] = seconds;
  });
  return timings;
}
