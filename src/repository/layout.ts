/**
 * Where the repository lives in a store (docs/format.md, "The repository"): one folder beside the
 * backup folders, one folder per epoch inside it.
 *
 *     MASBackup/Repository/<epoch>/packs/<sha256>.pack
 *     MASBackup/Repository/<epoch>/index/<sha256>.index
 *     MASBackup/Repository/<epoch>/repacks/<sha256>.repack
 */
export const REPOSITORY_FOLDER_NAME = 'Repository';
export const REPOSITORY_ROOT = `MASBackup/${REPOSITORY_FOLDER_NAME}`;
export const PACK_SUFFIX = '.pack';
export const INDEX_SUFFIX = '.index';
export const REPACK_SUFFIX = '.repack';

export const EPOCH_NAME = /^[0-9a-f]{32}$/;
const SHA256_NAME = /^[0-9a-f]{64}$/;

export const epochFolder = (epoch: string) => `${REPOSITORY_ROOT}/${epoch}`;
export const packsFolder = (epoch: string) => `${epochFolder(epoch)}/packs`;
export const indexFolder = (epoch: string) => `${epochFolder(epoch)}/index`;
export const repacksFolder = (epoch: string) => `${epochFolder(epoch)}/repacks`;
export const packPath = (epoch: string, name: string) => `${packsFolder(epoch)}/${name}${PACK_SUFFIX}`;
export const indexPath = (epoch: string, name: string) => `${indexFolder(epoch)}/${name}${INDEX_SUFFIX}`;
export const repackPath = (epoch: string, name: string) => `${repacksFolder(epoch)}/${name}${REPACK_SUFFIX}`;

/** The SHA-256 a stored file's name claims (`<sha256><suffix>`), or null when it is no such name. */
export function nameHash(fileName: string, suffix: string): string | null {
  if (!fileName.endsWith(suffix)) return null;
  const hash = fileName.slice(0, -suffix.length);
  return SHA256_NAME.test(hash) ? hash : null;
}

/** Whether a store path is inside the repository. */
export function isRepositoryPath(path: string): boolean {
  return path === REPOSITORY_ROOT || path.startsWith(`${REPOSITORY_ROOT}/`);
}
