/**
 * BackupInfo.json, the manifest of one backup (docs/format.md, "The manifest"): the Backup object's
 * fields, the format version, how the data is encrypted and compressed, and every role with its
 * registration and stored files. A backup folder without it does not exist. Parsing refuses anything
 * a damaged or hostile manifest could use to make the engine read or write outside the backup folder.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { FormatRegistry, Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { deriveManifestKey } from '../crypto/chunkCipher.js';
import { manifestKeyOf } from '../crypto/epochKeys.js';
import { type ChunkIdFunction, UNNAMED_CHUNK_ID_FUNCTION } from '../crypto/chunkId.js';
import { AzsError } from '../protocol/errors.js';
import { BackupRecord, ProviderName } from '../protocol/objects.js';
import { hasControlCharacters } from '../util/text.js';
import { MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, ROLE_FILE_VERSION } from './roleFileFormat.js';

/** The version this code writes; it reads every version from 1 up to it. Its role files are of the same version. */
export const FORMAT_VERSION = ROLE_FILE_VERSION;
/** The first version whose manifest carries `Authentication`, a MAC under the backup's key. */
export const AUTHENTICATED_FORMAT_VERSION = 3;
/**
 * The deduplicating repository (docs/format.md, "Format 4"): roles stored as chunks in packs shared
 * by the backups of a certificate epoch, not as role files. Written when the daemon runs with
 * AZSBACKUP_FORMAT=4 (a preview, docs/format.md says why).
 */
export const REPOSITORY_FORMAT_VERSION = 4;
/** The newest version this code reads. */
export const NEWEST_FORMAT_VERSION = REPOSITORY_FORMAT_VERSION;
export const MANIFEST_FILE_NAME = 'BackupInfo.json';
/**
 * The most a manifest may be. A role takes a few KiB; at the limits (both scripts of 64 KiB,
 * MAX_CHANGED_LISTED changed paths of 4 KiB) about 530 KiB, so this holds dozens of such roles and
 * thousands of ordinary ones. The backup job refuses to write more; a reader refuses a bigger file
 * before it reads it.
 */
export const MAX_MANIFEST_BYTES = 8 * 1024 * 1024;
/** ChangedDuringCopy lists at most this many paths; ChangedDuringCopyCount says how many there were. */
export const MAX_CHANGED_LISTED = 100;

if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set(
    'date-time',
    (value) => /^\d{4}-\d\d-\d\dT/.test(value) && !Number.isNaN(Date.parse(value)),
  );
}

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const ByteCount = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Sha256Hex = Type.String({ pattern: '^[0-9a-fA-F]{64}$' });

/** The shape of roles/provider.ts RoleRegistration, which the archive layer may not import. */
const ManifestRoleRegistration = Type.Object({
  Name: Type.String({ minLength: 1 }),
  Provider: ProviderName,
  Path: Nullable(Type.String()),
  BackupScript: Nullable(Type.String()),
  RestoreScript: Nullable(Type.String()),
  RegisteredTime: Type.String(),
});
export type ManifestRoleRegistration = Static<typeof ManifestRoleRegistration>;

const ManifestFile = Type.Object({
  /** Relative to the backup folder, '/'-separated, under the role's folder: 'Domain/Domain.azsb'. */
  Path: Type.String({ minLength: 1 }),
  Size: ByteCount,
  /** SHA-256 of the stored bytes, hex. */
  Sha256: Sha256Hex,
  /** The id the file's blocks are bound to (see roleArchive.ts). */
  FileId: Type.String({ minLength: 1, maxLength: 1024 }),
});
export type ManifestFile = Static<typeof ManifestFile>;

/** Format 4: where a role's record stream is in the repository. */
const ManifestContent = Type.Object({
  /** The id of the role's list of chunks (a blob), hex. */
  List: Sha256Hex,
  Chunks: ByteCount,
  /** The packs holding the role's blobs: what Test-AzsBackup without the .pfx reads, and prune keeps. */
  Packs: Type.Array(Sha256Hex, { maxItems: 1_000_000 }),
  /** Bytes of blobs the role added to the repository in this backup. */
  AddedBytes: ByteCount,
});
export type ManifestContent = Static<typeof ManifestContent>;

const ManifestRole = Type.Object({
  Registration: ManifestRoleRegistration,
  /** Format 1 to 3: the role's file (none when it failed); format 4: always empty. */
  Files: Type.Array(ManifestFile),
  /** Format 4, for a role that was stored. */
  Content: Type.Optional(ManifestContent),
  Entries: ByteCount,
  SourceBytes: ByteCount,
  /** Files whose size or mtime moved while they were copied: each is stored whole as it was read. */
  ChangedDuringCopy: Type.Optional(Type.Array(Type.String({ maxLength: 32767 }), { maxItems: 1_000_000 })),
  /** How many files ChangedDuringCopy would list (format 3 lists at most MAX_CHANGED_LISTED). */
  ChangedDuringCopyCount: Type.Optional(ByteCount),
});
export type ManifestRole = Static<typeof ManifestRole>;

const ManifestEncryption = Type.Object({
  Algorithm: Type.Literal('AES-256-GCM'),
  KeyWrap: Type.Literal('RSA-OAEP-SHA256'),
  /** The backup key, RSA-OAEP(SHA-256)-encrypted to the certificate, base64. */
  WrappedKey: Type.String({ minLength: 1 }),
  CertificateThumbprint: Type.String({ pattern: '^[0-9a-fA-F]{40}$' }),
  /** Format 1 to 3. */
  BlockSize: Type.Optional(Type.Integer({ minimum: MIN_BLOCK_SIZE, maximum: MAX_BLOCK_SIZE })),
  /** Format 4: the repository epoch whose data key `WrappedKey` is. */
  Epoch: Type.Optional(Type.String({ pattern: '^[0-9a-f]{32}$' })),
  /** Format 4: what the epoch's chunk ids are made with (crypto/chunkId.ts); chunkIdFunctionOf. */
  ChunkId: Type.Optional(Type.Union([Type.Literal('HMAC-SHA256'), Type.Literal('BLAKE3')])),
});

const ManifestAuthentication = Type.Object({
  Algorithm: Type.Literal('HMAC-SHA256'),
  /** HMAC-SHA256 under the manifest key of the canonical JSON of the manifest without this field. */
  Mac: Type.String({ pattern: '^[0-9a-f]{64}$' }),
});

const ManifestSchema = Type.Object({
  ...BackupRecord.properties,
  FormatVersion: Type.Integer({ minimum: 1, maximum: NEWEST_FORMAT_VERSION }),
  Location: Type.String({ minLength: 1 }),
  Encryption: ManifestEncryption,
  Compression: Type.Literal('zstd'),
  Roles: Type.Array(ManifestRole),
  /** Required from format version 3 (see authenticateManifest). */
  Authentication: Type.Optional(ManifestAuthentication),
});
export type BackupManifest = Static<typeof ManifestSchema>;
/** A manifest before it is authenticated: what the backup job builds. */
export type UnsealedManifest = Omit<BackupManifest, 'Authentication'>;

const LOWER_GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** RSA 2048 to 8192 bits: the wrapped key is as long as the modulus. */
const WRAPPED_KEY_BYTES = { min: 256, max: 1024 };

/** The manifest as JSON text; refuses (with a plain Error: a bug in the caller) an invalid one. */
export function serializeManifest(manifest: BackupManifest): string {
  const problem = manifestProblem(manifest);
  if (problem) throw new Error(`refusing to write an invalid backup manifest: ${problem}`);
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES)
    throw new Error(`refusing to write a backup manifest of more than ${MAX_MANIFEST_BYTES} bytes`);
  return text;
}

/** Whether a role of the backup holds data: a role file (formats 1 to 3) or content in the repository (format 4). */
export function holdsData(role: ManifestRole): boolean {
  return role.Files.length > 0 || role.Content !== undefined;
}

/** The id a stored file's blocks are bound to: computed by every reader, never taken from the manifest. */
export function fileIdOf(backupId: string, roleName: string): string {
  return `${backupId}/${roleName}`;
}

/**
 * The bytes the manifest's MAC covers: the manifest without `Authentication` as canonical JSON —
 * object keys sorted by UTF-16 code unit at every level, no whitespace, strings and numbers as
 * JSON.stringify writes them, members whose value is undefined left out (docs/format.md).
 */
export function canonicalManifestBytes(manifest: UnsealedManifest | BackupManifest): Buffer {
  const covered: Record<string, unknown> = { ...manifest };
  delete covered.Authentication;
  return Buffer.from(canonicalJson(covered), 'utf8');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const members = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Format 4's key is the epoch's data key, so the MAC key is bound to the backup's id as well. */
function manifestMac(manifest: UnsealedManifest | BackupManifest, backupKey: Buffer): Buffer {
  const { Epoch: epoch } = manifest.Encryption;
  const manifestKey =
    manifest.FormatVersion >= REPOSITORY_FORMAT_VERSION && epoch
      ? manifestKeyOf(backupKey, epoch, manifest.BackupId)
      : deriveManifestKey(backupKey);
  try {
    return createHmac('sha256', manifestKey).update(canonicalManifestBytes(manifest)).digest();
  } finally {
    manifestKey.fill(0);
  }
}

/** The manifest with its `Authentication` (format version 3): made by the writer, who holds the key. */
export function authenticateManifest(manifest: UnsealedManifest, backupKey: Buffer): BackupManifest {
  return {
    ...manifest,
    Authentication: { Algorithm: 'HMAC-SHA256', Mac: manifestMac(manifest, backupKey).toString('hex') },
  };
}

/**
 * Checks the manifest's MAC with the backup key (once the .pfx has unwrapped it). Returns true for an
 * authenticated manifest, false for one of format version 1 or 2, which has no MAC; refuses
 * (BackupCorrupt) a manifest of version 3 whose MAC does not match: something changed it.
 */
export function checkManifestAuthentication(
  manifest: BackupManifest,
  backupKey: Buffer,
  source: string,
): boolean {
  if (manifest.FormatVersion < AUTHENTICATED_FORMAT_VERSION) return false;
  const recorded = Buffer.from(manifest.Authentication!.Mac, 'hex');
  if (!timingSafeEqual(recorded, manifestMac(manifest, backupKey))) {
    throw new AzsError(
      'BackupCorrupt',
      `'${source}' does not authenticate with the backup's key: it was changed after the backup was written (its roles, paths, scripts, files or keys cannot be trusted). Nothing was restored or verified; use another backup, and check what writes to the backup store.`,
      { target: source },
    );
  }
  return true;
}

/** Reads and checks a manifest; `source` names it in messages (e.g. its path on the store). */
export function parseManifest(text: string, source: string): BackupManifest {
  if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES)
    throw invalid(source, `it is more than ${MAX_MANIFEST_BYTES} bytes long, more than a manifest can be`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(source, `it is not JSON (${(error as Error).message})`);
  }
  const problem = manifestProblem(value);
  if (problem) throw invalid(source, problem);
  return value as BackupManifest;
}

function invalid(source: string, problem: string): AzsError {
  return new AzsError(
    'BackupCorrupt',
    `'${source}' is not a usable backup manifest: ${problem}. This backup cannot be listed, tested or restored; use another backup, and check what writes to the backup store.`,
    { target: source },
  );
}

function manifestProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'it is not a JSON object';
  const version = (value as { FormatVersion?: unknown }).FormatVersion;
  if (
    typeof version === 'number' &&
    !(Number.isInteger(version) && version >= 1 && version <= NEWEST_FORMAT_VERSION)
  ) {
    return `it has format version ${version}, and this version of AzureStackBackup reads versions 1 to ${NEWEST_FORMAT_VERSION} (use the version that wrote it, or a newer one)`;
  }
  const schemaError = Value.Errors(ManifestSchema, value).First();
  if (schemaError) return `${fieldName(schemaError.path)}: ${schemaError.message.toLowerCase()}`;
  return consistencyProblem(value as BackupManifest);
}

/** '/Roles/0/Files/0/Sha256' → 'Roles[0].Files[0].Sha256', as an operator reads a JSON field. */
function fieldName(pointer: string): string {
  return (
    pointer
      .slice(1)
      .replace(/\/(\d+)/g, '[$1]')
      .replace(/\//g, '.') || 'the document'
  );
}

/** What the schema cannot say: identities, the wrapped key, and where every file lies. */
function consistencyProblem(manifest: BackupManifest): string | null {
  if (!LOWER_GUID.test(manifest.BackupId)) return 'BackupId is not a lower-case GUID';
  if (!LOWER_GUID.test(manifest.DeploymentId)) return 'DeploymentId is not a lower-case GUID';
  if (segmentProblem(manifest.Location))
    return `Location '${manifest.Location}' ${segmentProblem(manifest.Location)}`;
  if (manifest.Name !== `${manifest.Location}/${manifest.BackupId}`)
    return 'Name is not <Location>/<BackupId>';
  const thumbprint = manifest.EncryptionCertThumbprint;
  if (
    thumbprint !== null &&
    thumbprint.toUpperCase() !== manifest.Encryption.CertificateThumbprint.toUpperCase()
  ) {
    return 'EncryptionCertThumbprint differs from Encryption.CertificateThumbprint';
  }
  if (manifest.FormatVersion >= AUTHENTICATED_FORMAT_VERSION && !manifest.Authentication)
    return `Authentication is missing, and every manifest of format version ${AUTHENTICATED_FORMAT_VERSION} or later has it`;
  return (
    versionProblem(manifest) ??
    wrappedKeyProblem(manifest.Encryption.WrappedKey) ??
    rolesProblem(manifest.BackupId, manifest.Roles)
  );
}

/**
 * The function a format 4 backup's chunk ids are made with: its manifest says so (authenticated, like
 * every field), or says nothing when the backup is older than BLAKE3 ids (UNNAMED_CHUNK_ID_FUNCTION).
 */
export function chunkIdFunctionOf(manifest: BackupManifest): ChunkIdFunction {
  return manifest.Encryption.ChunkId ?? UNNAMED_CHUNK_ID_FUNCTION;
}

/** The fields that only some versions have. */
function versionProblem(manifest: BackupManifest): string | null {
  const repository = manifest.FormatVersion >= REPOSITORY_FORMAT_VERSION;
  if (repository && !manifest.Encryption.Epoch) return 'Encryption.Epoch is missing, and format 4 needs it';
  if (!repository && manifest.Encryption.ChunkId) return 'Encryption.ChunkId is set, which only format 4 has';
  if (!repository && manifest.Encryption.BlockSize === undefined)
    return `Encryption.BlockSize is missing, and format ${manifest.FormatVersion} needs it`;
  for (const role of manifest.Roles) {
    if (repository && role.Files.length)
      return `role '${role.Registration.Name}' lists files, and format 4 stores none`;
    if (!repository && role.Content)
      return `role '${role.Registration.Name}' has Content, which only format 4 has`;
  }
  return null;
}

function wrappedKeyProblem(wrappedKey: string): string | null {
  if (!BASE64.test(wrappedKey)) return 'Encryption.WrappedKey is not base64';
  const bytes = Buffer.from(wrappedKey, 'base64').length;
  if (bytes < WRAPPED_KEY_BYTES.min || bytes > WRAPPED_KEY_BYTES.max) {
    return `Encryption.WrappedKey is ${bytes} bytes long, not an RSA-encrypted key`;
  }
  return null;
}

function rolesProblem(backupId: string, roles: ManifestRole[]): string | null {
  const roleNames = new Set<string>();
  const paths = new Set<string>();
  const fileIds = new Set<string>();
  for (const role of roles) {
    const name = role.Registration.Name;
    const nameProblem = segmentProblem(name);
    if (nameProblem) return `role name '${name}' ${nameProblem}`;
    if (!claim(roleNames, name.toLowerCase())) return `role '${name}' appears twice`;
    for (const file of role.Files) {
      const pathProblem = storedPathProblem(file.Path, name);
      if (pathProblem) return `file '${file.Path}' of role '${name}' ${pathProblem}`;
      if (!claim(paths, file.Path.toLowerCase())) return `file '${file.Path}' appears twice`;
      if (file.FileId !== fileIdOf(backupId, name))
        return `file '${file.Path}' of role '${name}' has FileId '${file.FileId}', not '${fileIdOf(backupId, name)}'`;
      if (!claim(fileIds, file.FileId)) return `FileId '${file.FileId}' appears twice`;
    }
  }
  return null;
}

function claim(seen: Set<string>, value: string): boolean {
  if (seen.has(value)) return false;
  seen.add(value);
  return true;
}

/** Why `name` cannot be one folder name on every platform, or null. */
function segmentProblem(name: string): string | null {
  if (name === '' || name === '.' || name === '..') return 'is not a folder name';
  if (/[/\\:]/.test(name) || hasControlCharacters(name))
    return 'contains a path separator or a control character';
  return null;
}

/** A stored file lies strictly inside its role's folder: '<RoleName>/<segment>/…'. */
function storedPathProblem(path: string, roleName: string): string | null {
  const segments = path.split('/');
  if (segments[0] !== roleName) return `is not under the role's folder '${roleName}/'`;
  if (segments.length < 2 || segments.some((segment) => segmentProblem(segment) !== null)) {
    return 'is not a relative path inside the backup folder';
  }
  return null;
}
