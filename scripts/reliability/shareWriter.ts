/**
 * Scenario 7, share writer (issue 14): whoever can write the store — but has neither the .pfx nor the
 * daemon's state folder, only the public .cer — edits real backups on the store and plants new ones,
 * and the operator then lists, tests, restores and prunes through the real cmdlets. Every attack that
 * gets a role registered, a planted script run, a path outside the roles written, relabelled or
 * republished data accepted, a file outside the store deleted, or a listing slowed by re-reading
 * large manifests, counts as leaked. Each tampered backup is put back as it was after its attack.
 */
import { randomUUID } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { TestDaemon } from '../../test/helpers/daemon.js';
import { removeDir, startDaemon, tempDir } from '../../test/helpers/daemon.js';
import type { Deployment } from '../../test/helpers/deployment.js';
import { attack, ACCEPT_BACKUP_ROLES, Operator } from './attacks.js';
import {
  backupFolderOnDisk,
  Cleanup,
  digestsOf,
  directoryRole,
  errorMessage,
  residentMiB,
  sqliteRole,
  startDeployment,
  Tally,
  treeDigest,
  verifyCommitted,
  type Committed,
  type RoleCheck,
  type SuiteOptions,
} from './common.js';

type Manifest = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Role = Manifest;

const MANIFEST = 'BackupInfo.json';
/** Five invalid manifests of this size, listed twice: the second listing must not parse them again. */
const LARGE_MANIFESTS = { count: 5, bytes: 60 * 1024 * 1024 };
const RELISTING_BOUND = { extraMs: 1_000, growthMiB: 200 };

interface Context {
  daemon: TestDaemon;
  deployment: Deployment;
  operator: Operator;
  /** Where planted scripts leave their marker and victim folders live: outside the store and every role. */
  witness: string;
  older: Committed;
  newer: Committed;
  cleanup: Cleanup;
  options: SuiteOptions;
}

const folderOf = (context: Context, backup: Committed) =>
  backupFolderOnDisk(context.deployment.store, backup.backupId)!;

function readManifest(folder: string): Manifest {
  return JSON.parse(readFileSync(path.join(folder, MANIFEST), 'utf8')) as Manifest;
}

function writeManifest(folder: string, manifest: Manifest): void {
  writeFileSync(path.join(folder, MANIFEST), JSON.stringify(manifest, null, 2));
}

function roleIn(manifest: Manifest, name: string): Role {
  const role = (manifest.Roles as Role[]).find((candidate) => candidate.Registration.Name === name);
  if (!role) throw new Error(`the backup has no role ${name}`);
  return role;
}

/**
 * Tampers with a backup folder for one attack and puts it back afterwards, byte for byte (a copy
 * taken before is moved back), so that each attack starts from the real backups.
 */
async function tampered<T>(folder: string, tamper: () => void, run: () => Promise<T>): Promise<T> {
  const pristine = tempDir('rel-pristine');
  cpSync(folder, pristine, { recursive: true, verbatimSymlinks: true });
  try {
    tamper();
    return await run();
  } finally {
    rmSync(folder, { recursive: true, force: true });
    cpSync(pristine, folder, { recursive: true });
    removeDir(pristine);
  }
}

/** A role's stored files moved to another role name: the folder renamed, the paths rewritten. */
function relabel(folder: string, role: Role, name: string): void {
  const old = role.Registration.Name as string;
  renameSync(path.join(folder, old), path.join(folder, name));
  role.Registration = { ...role.Registration, Name: name };
  for (const file of role.Files) file.Path = `${name}/${(file.Path as string).slice(old.length + 1)}`;
}

/** Makes a role a PowerShell role whose scripts write `marker`. */
function asPowerShellRole(role: Role, marker: string): void {
  role.Registration = {
    ...role.Registration,
    Provider: 'PowerShell',
    Path: null,
    BackupScript: `Set-Content -LiteralPath '${marker}' -Value backup`,
    RestoreScript: `Set-Content -LiteralPath '${marker}' -Value restore`,
  };
}

/** What the restore of a planted or relabelled role did: registered it, ran its script. */
async function plantedEffects(context: Context, roleName: string, marker: string): Promise<string[]> {
  const effects: string[] = [];
  if ((await context.operator.roleNames()).includes(roleName))
    effects.push(`role '${roleName}' got registered`);
  if (existsSync(marker)) effects.push(`its script ran (${readFileSync(marker, 'utf8').trim()})`);
  await context.daemon.call('role.unregister', { Name: roleName }).catch(() => undefined);
  rmSync(marker, { force: true });
  return effects;
}

const joined = (effects: string[]) => (effects.length ? effects.join('; ') : null);

function markerFor(context: Context, name: string): string {
  return path.join(context.witness, `${name}.marker`);
}

/** A folder outside the store and every role, with a few files; its digest. */
async function victimFolder(context: Context, name: string): Promise<{ folder: string; digest: string }> {
  const folder = path.join(context.witness, name);
  mkdirSync(folder, { recursive: true });
  for (const file of ['keep-1.txt', 'keep-2.conf'])
    writeFileSync(path.join(folder, file), `${name} ${file}\n`);
  return { folder, digest: await treeDigest(folder) };
}

async function changedSince(victim: { folder: string; digest: string }): Promise<string | null> {
  if (!existsSync(victim.folder)) return `${victim.folder} was removed`;
  return (await treeDigest(victim.folder)) === victim.digest ? null : `${victim.folder} was changed`;
}

async function plantRole(context: Context): Promise<string | null> {
  const folder = folderOf(context, context.newer);
  const marker = markerFor(context, 'planted');
  return tampered(
    folder,
    () => {
      const manifest = readManifest(folder);
      const planted = structuredClone(roleIn(manifest, 'CA'));
      planted.Registration.Name = 'Planted';
      Object.assign(planted, { Files: [], Entries: 0, SourceBytes: 0 });
      asPowerShellRole(planted, marker);
      manifest.Roles.push(planted);
      writeManifest(folder, manifest);
    },
    async () => {
      await context.operator.restore(context.newer.backupId, 'CA');
      return joined(await plantedEffects(context, 'Planted', marker));
    },
  );
}

async function moveFileToScriptRole(context: Context): Promise<string | null> {
  const folder = folderOf(context, context.newer);
  const marker = markerFor(context, 'moved');
  return tampered(
    folder,
    () => {
      const manifest = readManifest(folder);
      const role = roleIn(manifest, 'CA');
      relabel(folder, role, 'Moved');
      asPowerShellRole(role, marker);
      writeManifest(folder, manifest);
    },
    async () => {
      const verified = await context.operator.rolesVerified(context.newer.backupId);
      await context.operator.restore(context.newer.backupId);
      const effects = await plantedEffects(context, 'Moved', marker);
      if (verified.includes('Moved')) effects.push('Test-AzsBackup with the .pfx says Succeeded');
      return joined(effects);
    },
  );
}

/** Registration.Path of a registered role pointed at a victim folder. */
async function redirectRegisteredRole(context: Context): Promise<string | null> {
  const folder = folderOf(context, context.newer);
  const victim = await victimFolder(context, 'victim-registered');
  return tampered(
    folder,
    () => {
      const manifest = readManifest(folder);
      roleIn(manifest, 'CA').Registration.Path = victim.folder;
      writeManifest(folder, manifest);
    },
    async () => {
      await context.operator.restore(context.newer.backupId, 'CA');
      return changedSince(victim);
    },
  );
}

/** A role's data relabelled as a new Directory role whose path is a victim folder. */
async function redirectToNewRole(context: Context): Promise<string | null> {
  const folder = folderOf(context, context.newer);
  const victim = await victimFolder(context, 'victim-new-role');
  return tampered(
    folder,
    () => {
      const manifest = readManifest(folder);
      const role = roleIn(manifest, 'CA');
      relabel(folder, role, 'Elsewhere');
      role.Registration.Path = victim.folder;
      writeManifest(folder, manifest);
    },
    async () => {
      await context.operator.restore(context.newer.backupId, 'Elsewhere');
      const effects = await plantedEffects(context, 'Elsewhere', markerFor(context, 'none'));
      const changed = await changedSince(victim);
      return joined(changed ? [changed, ...effects] : effects);
    },
  );
}

/** The newer backup's CA data (file, FileId, key) presented as the older backup's CA. */
async function relabelAcrossBackups(context: Context): Promise<string | null> {
  const folder = folderOf(context, context.older);
  const donorFolder = folderOf(context, context.newer);
  return tampered(
    folder,
    () => {
      const manifest = readManifest(folder);
      const donor = readManifest(donorFolder);
      rmSync(path.join(folder, 'CA'), { recursive: true });
      cpSync(path.join(donorFolder, 'CA'), path.join(folder, 'CA'), { recursive: true });
      roleIn(manifest, 'CA').Files = roleIn(donor, 'CA').Files;
      manifest.Encryption.WrappedKey = donor.Encryption.WrappedKey;
      writeManifest(folder, manifest);
    },
    async () => {
      if ((await context.operator.rolesVerified(context.older.backupId)).includes('CA'))
        return "Test-AzsBackup with the .pfx accepts another backup's data as role CA";
      const restored = await context.operator.restore(context.older.backupId, 'CA');
      return restored.ok ? "Restore-AzsBackup restored another backup's data as role CA" : null;
    },
  );
}

/** CA's and WAS's stored files (bytes, sizes, hashes, FileIds) swapped inside one backup. */
async function relabelBetweenRoles(context: Context): Promise<string | null> {
  const folder = folderOf(context, context.newer);
  return tampered(
    folder,
    () => {
      const manifest = readManifest(folder);
      const [ca, was] = [roleIn(manifest, 'CA'), roleIn(manifest, 'WAS')];
      renameSync(path.join(folder, 'CA'), path.join(folder, 'swap'));
      renameSync(path.join(folder, 'WAS'), path.join(folder, 'CA'));
      renameSync(path.join(folder, 'swap'), path.join(folder, 'WAS'));
      [ca.Files, was.Files] = [was.Files, ca.Files];
      ca.Files = ca.Files.map((file: Manifest) => ({ ...file, Path: file.Path.replace(/^WAS\//, 'CA/') }));
      was.Files = was.Files.map((file: Manifest) => ({ ...file, Path: file.Path.replace(/^CA\//, 'WAS/') }));
      writeManifest(folder, manifest);
    },
    async () => {
      const verified = await context.operator.rolesVerified(context.newer.backupId);
      return verified.length
        ? `Test-AzsBackup with the .pfx says Succeeded for ${verified.join(', ')}`
        : null;
    },
  );
}

/** The older backup's folder moved under a newer timestamp folder, its manifest untouched. */
async function republishUnderNewerFolder(context: Context): Promise<string | null> {
  const folder = folderOf(context, context.older);
  const moved = path.join(context.deployment.store, 'MASBackup', '20990101T000000Z', context.older.backupId);
  mkdirSync(path.dirname(moved), { recursive: true });
  renameSync(folder, moved);
  try {
    const [first] = await context.operator.backups();
    return first?.BackupId === context.older.backupId ? 'Get-AzsBackup lists the old backup first' : null;
  } finally {
    renameSync(moved, folder);
    rmSync(path.dirname(moved), { recursive: true, force: true });
  }
}

/**
 * What the listing and the verification say of a republished backup whose manifest was changed:
 * shown as known to the deployment, or verified with the .pfx. (Listing it first cannot be told
 * apart without the key, so that alone does not count.)
 */
async function acceptedAsRepublished(context: Context, backupId: string): Promise<string | null> {
  const effects: string[] = [];
  const listed = (await context.operator.backups()).find((backup) => backup.BackupId === backupId);
  if (listed?.Known === true) effects.push('Get-AzsBackup shows it as known to this deployment');
  if ((await context.operator.rolesVerified(backupId)).length)
    effects.push('Test-AzsBackup with the .pfx says Succeeded');
  return joined(effects);
}

const IN_A_DAY = () => new Date(Date.now() + 86_400_000).toISOString();

async function republishWithNewerTime(context: Context): Promise<string | null> {
  const folder = folderOf(context, context.older);
  return tampered(
    folder,
    () => {
      const manifest = readManifest(folder);
      manifest.CreatedDateTime = IN_A_DAY();
      writeManifest(folder, manifest);
    },
    () => acceptedAsRepublished(context, context.older.backupId),
  );
}

/** The older backup copied under a new id and a newer time: the same data, a new name. */
async function republishUnderNewId(context: Context): Promise<string | null> {
  const id = randomUUID();
  const copy = path.join(context.deployment.store, 'MASBackup', '20990102T000000Z', id);
  cpSync(folderOf(context, context.older), copy, { recursive: true });
  try {
    const manifest = readManifest(copy);
    Object.assign(manifest, {
      BackupId: id,
      Name: `${manifest.Location}/${id}`,
      CreatedDateTime: IN_A_DAY(),
    });
    writeManifest(copy, manifest);
    return await acceptedAsRepublished(context, id);
  } finally {
    rmSync(path.dirname(copy), { recursive: true, force: true });
  }
}

/**
 * The older backup downgraded to format 2 (which has no MAC) to move its time forward: the manifest
 * loses `Authentication`, says FormatVersion 2 and a newer CreatedDateTime, and the folder moves to
 * the timestamp folder of that time, so every rule a listing can check without the key holds.
 */
async function downgradeToMoveForward(context: Context): Promise<string | null> {
  const newer = new Date(Date.now() + 86_400_000);
  newer.setUTCMilliseconds(0);
  const stamp = newer.toISOString().replace(/[-:]|\.000/g, '');
  const moved = path.join(context.deployment.store, 'MASBackup', stamp, context.older.backupId);
  const folder = folderOf(context, context.older);
  const original = readFileSync(path.join(folder, 'BackupInfo.json'));
  mkdirSync(path.dirname(moved), { recursive: true });
  renameSync(folder, moved);
  try {
    const manifest = readManifest(moved);
    delete manifest.Authentication;
    Object.assign(manifest, { FormatVersion: 2, CreatedDateTime: newer.toISOString() });
    writeManifest(moved, manifest);
    return await acceptedAsRepublished(context, context.older.backupId);
  } finally {
    writeFileSync(path.join(moved, 'BackupInfo.json'), original);
    renameSync(moved, folder);
    rmSync(path.dirname(moved), { recursive: true, force: true });
  }
}

/**
 * A complete backup forged with nothing but the public .cer: the attacker runs this project's own
 * daemon on a state folder of their own, with the victim's certificate, a PowerShell role of their
 * choosing and a Directory role whose path is a folder outside the victim's roles; then copies what
 * it wrote into the victim's store. So the forgery is exactly as good as the project's writer
 * (new random key wrapped with RSA-OAEP-SHA256, real role files, and whatever the format adds).
 */
async function forgeWithCertificate(context: Context): Promise<string | null> {
  const attackerRoot = tempDir('rel-forger');
  context.cleanup.add(() => removeDir(attackerRoot));
  const forger = startDaemon();
  context.cleanup.add(() => removeDir(forger.stateDir));
  const marker = markerFor(context, 'forged');
  const outside = path.join(context.witness, 'victim-forged');
  let forgedId: string;
  try {
    mkdirSync(path.join(attackerRoot, 'store'));
    mkdirSync(outside, { recursive: true });
    writeFileSync(path.join(outside, 'attacker.txt'), 'written by the forged backup\n');
    await forger.call('config.set', {
      Path: path.join(attackerRoot, 'store'),
      EncryptionCertPath: context.deployment.cerPath,
    });
    await forger.call('role.register', {
      Name: 'Forged',
      Provider: 'PowerShell',
      BackupScript: `Set-Content -LiteralPath (Join-Path $StagingPath 'payload.txt') -Value forged`,
      RestoreScript: `Set-Content -LiteralPath '${marker}' -Value restore`,
    });
    await forger.call('role.register', { Name: 'Outside', Provider: 'Directory', Path: outside });
    const forged = await forger.call('backup.start', { Wait: true });
    if (forged.Status !== 'Succeeded') throw new Error(`the forger's backup ended ${forged.Status}`);
    forgedId = forged.BackupId;
  } finally {
    forger.stop();
  }
  removeDir(outside);
  const victim = await victimFolder(context, 'victim-forged');
  const planted = path.join(context.deployment.store, 'MASBackup');
  cpSync(path.join(attackerRoot, 'store', 'MASBackup'), planted, { recursive: true, force: false });
  try {
    const effects: string[] = [];
    const listed = (await context.operator.backups()).find((backup) => backup.BackupId === forgedId);
    if (listed?.Known === true) effects.push('Get-AzsBackup shows it as known to this deployment');
    await context.operator.restore(forgedId);
    effects.push(...(await plantedEffects(context, 'Forged', marker)));
    effects.push(...(await plantedEffects(context, 'Outside', marker)));
    const changed = await changedSince(victim);
    if (changed) effects.push(changed);
    return joined(effects);
  } finally {
    const folder = backupFolderOnDisk(context.deployment.store, forgedId);
    if (folder) rmSync(path.dirname(folder), { recursive: true, force: true });
  }
}

/** Prune's dry run and real run; whether either reached the victim's files through the link. */
async function pruneThroughLink(
  context: Context,
  victim: { folder: string; digest: string },
): Promise<string | null> {
  const effects: string[] = [];
  const names = readdirSync(victim.folder);
  const dryRun = await context.operator.attempt(
    'Invoke-AzsPruneBackupLocationExternalStore -OperationType DryRun | ForEach-Object PathsToDelete',
  );
  const listed = dryRun.ok ? (dryRun.output as string[]) : [];
  const outsideListed = listed.filter((entry) => names.includes(path.basename(entry)));
  if (outsideListed.length)
    effects.push(`the dry run lists files outside the store as inside it: ${outsideListed.join(', ')}`);
  await context.operator.attempt('Invoke-AzsPruneBackupLocationExternalStore -Confirm:$false');
  const changed = await changedSince(victim);
  if (changed) effects.push(`prune deleted outside the store: ${changed}`);
  return joined(effects);
}

/** A role folder inside a complete backup replaced by a link to a victim folder outside the store. */
async function pruneRoleFolderLink(context: Context): Promise<string | null> {
  const folder = folderOf(context, context.older);
  const victim = await victimFolder(context, 'victim-prune-role');
  return tampered(
    folder,
    () => {
      rmSync(path.join(folder, 'CA'), { recursive: true });
      symlinkSync(victim.folder, path.join(folder, 'CA'));
    },
    () => pruneThroughLink(context, victim),
  );
}

/** An orphaned backup folder (no manifest) that is a link to a victim folder outside the store. */
async function pruneOrphanFolderLink(context: Context): Promise<string | null> {
  const victim = await victimFolder(context, 'victim-prune-orphan');
  const stamp = path.join(context.deployment.store, 'MASBackup', '20990103T000000Z');
  mkdirSync(stamp, { recursive: true });
  symlinkSync(victim.folder, path.join(stamp, randomUUID()));
  try {
    return await pruneThroughLink(context, victim);
  } finally {
    rmSync(stamp, { recursive: true, force: true });
  }
}

/** Milliseconds a Get-AzsBackup takes, and the daemon's peak VmRSS growth meanwhile (MiB). */
async function timedListing(context: Context): Promise<{ ms: number; growthMiB: number }> {
  const before = residentMiB(context.daemon.pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, residentMiB(context.daemon.pid))), 50);
  const started = Date.now();
  try {
    await context.operator.backups();
    return { ms: Date.now() - started, growthMiB: peak - before };
  } finally {
    clearInterval(sampler);
  }
}

async function largeManifests(context: Context): Promise<string | null> {
  const baseline = await timedListing(context);
  const stamp = path.join(context.deployment.store, 'MASBackup', '20990104T000000Z');
  const text = `{"pad": "${'x'.repeat(LARGE_MANIFESTS.bytes)}"}`;
  for (let index = 0; index < LARGE_MANIFESTS.count; index += 1) {
    mkdirSync(path.join(stamp, randomUUID()), { recursive: true });
  }
  for (const id of readdirSync(stamp)) writeFileSync(path.join(stamp, id, MANIFEST), text);
  try {
    const first = await timedListing(context);
    const second = await timedListing(context);
    context.options.log(
      `share writer: Get-AzsBackup with ${LARGE_MANIFESTS.count} invalid manifests of ${LARGE_MANIFESTS.bytes >> 20} MiB: ` +
        `${baseline.ms} ms before, ${first.ms} ms (+${first.growthMiB.toFixed(0)} MiB VmRSS) the first time, ` +
        `${second.ms} ms (+${second.growthMiB.toFixed(0)} MiB) the second`,
    );
    const slow = second.ms > baseline.ms + RELISTING_BOUND.extraMs;
    if (slow || second.growthMiB > RELISTING_BOUND.growthMiB)
      return `the second listing read them again (${second.ms} ms, +${second.growthMiB.toFixed(0)} MiB VmRSS; ${baseline.ms} ms without them)`;
    return null;
  } finally {
    rmSync(stamp, { recursive: true, force: true });
  }
}

const ATTACKS: Array<[string, (context: Context) => Promise<string | null>]> = [
  ['a PowerShell role planted in a real backup, then Restore-AzsBackup -RoleName CA', plantRole],
  ["a role's stored file moved under a new PowerShell role", moveFileToScriptRole],
  ["a registered role's Registration.Path pointed at a victim folder", redirectRegisteredRole],
  ["a role's data relabelled as a new role whose path is a victim folder", redirectToNewRole],
  ["FileId, file and WrappedKey of another backup's role", relabelAcrossBackups],
  ['FileIds and files of two roles swapped', relabelBetweenRoles],
  ['an old backup moved under a newer timestamp folder', republishUnderNewerFolder],
  ["an old backup's CreatedDateTime made the newest", republishWithNewerTime],
  ['an old backup republished under a new id and time', republishUnderNewId],
  [
    "an old backup rewritten as format 2 (no MAC) with a newer time, in that time's folder",
    downgradeToMoveForward,
  ],
  [`a backup forged with the public .cer, restored without -${ACCEPT_BACKUP_ROLES}`, forgeWithCertificate],
  ['a role folder in a backup replaced by a link to a victim folder, then prune', pruneRoleFolderLink],
  ['an orphaned backup folder that is a link to a victim folder, then prune', pruneOrphanFolderLink],
  [`${LARGE_MANIFESTS.count} large invalid manifests, listed twice`, largeManifests],
];

async function committedBackup(daemon: TestDaemon, roles: RoleCheck[], tally: Tally): Promise<Committed> {
  const digests = await digestsOf(roles);
  const backup = await daemon.call('backup.start', { Wait: true });
  if (backup.Status !== 'Succeeded') throw new Error(`a backup of the deployment ended ${backup.Status}`);
  tally.committed += 1;
  return { backupId: backup.BackupId, created: backup.CreatedDateTime, ready: true, digests };
}

export async function shareWriter(options: SuiteOptions): Promise<Tally> {
  const tally = new Tally('7. share writer');
  const cleanup = new Cleanup();
  try {
    const { daemon, deployment } = await startDeployment(cleanup);
    // The attacks plant their own PowerShell roles; the deployment's own would cost a pwsh per backup.
    await daemon.call('role.unregister', { Name: 'ECE' });
    const roles = [directoryRole('CA', deployment.folder), sqliteRole('WAS', deployment.database)];
    const older = await committedBackup(daemon, roles, tally);
    writeFileSync(path.join(deployment.folder, 'changed-after-the-first-backup.txt'), 'newer\n');
    const newer = await committedBackup(daemon, roles, tally);
    const witness = tempDir('rel-witness');
    cleanup.add(() => removeDir(witness));
    const operator = await Operator.start(daemon.stateDir, deployment.pfxPath);
    cleanup.add(() => operator.dispose());
    const context: Context = { daemon, deployment, operator, witness, older, newer, cleanup, options };
    for (const [name, run] of ATTACKS) await attack(tally, name, () => run(context));
    options.log(`share writer: ${tally.injected} attacks tried, ${tally.leaked} succeeded`);
    // The real backups, put back after each attack, still verify, and still restore here as before.
    const target = { daemon, pfxPath: deployment.pfxPath, storeFolder: deployment.store, roles };
    for (const backup of [older, newer]) {
      const problem = await verifyCommitted(target, backup);
      if (problem) tally.lose(problem);
      else tally.verified += 1;
    }
    const restored = await operator.restore(newer.backupId);
    tally.check(
      restored.ok,
      `the real backup no longer restores on its own deployment: ${JSON.stringify(restored)}`,
    );
  } catch (error) {
    tally.fail(`scenario stopped: ${errorMessage(error)}`);
  } finally {
    await cleanup.run();
  }
  return tally;
}
