/**
 * The archive layer's public face: role data files (write, read, verify), checks of stored files
 * against the manifest, and the block size new backups record. The manifest lives in manifest.ts and
 * the entry types in entry.ts.
 */
export {
  writeRoleArchive,
  readRoleArchive,
  verifyRoleArchive,
  type ArchiveSummary,
  type ReadRoleArchiveOptions,
  type RoleArchiveOptions,
  type WriteRoleArchiveOptions,
  type VerifyResult,
} from './roleArchive.js';
export {
  storedFileProblem,
  compareReadBack,
  type ReadBack,
  type StoredFileExpectation,
  type WrittenFile,
} from './storedFile.js';
export { DEFAULT_BLOCK_SIZE as BLOCK_SIZE, ROLE_FILE_VERSION } from './roleFileFormat.js';
