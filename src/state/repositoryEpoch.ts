/**
 * repository-epoch.json: the repository epoch (format 4) this deployment writes to, with its data
 * key sealed like the store password, so that backups deduplicate without the .pfx. A new epoch
 * starts, with a new key and a full backup, when the certificate or the store changes, or when this
 * file is gone (a fresh deployment): an old .pfx never opens a newer epoch's data.
 */
import { generateBackupKey, wrapKey } from '../crypto/keyWrap.js';
import { newEpochId } from '../crypto/epochKeys.js';
import {
  type ChunkIdFunction,
  UNNAMED_CHUNK_ID_FUNCTION,
  newEpochChunkIdFunction,
} from '../crypto/chunkId.js';
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import type { SavedCertificate, StateDir } from './stateDir.js';

interface SavedEpoch {
  Epoch: string;
  CertificateThumbprint: string;
  /** The store's location as configured: a new store starts a new epoch. */
  Store: string;
  /** The data key wrapped with the certificate, as every manifest of the epoch records it. */
  WrappedKey: string;
  SealedKey: string;
  /** What the epoch's chunk ids are made with; absent in an epoch saved before BLAKE3 ids. */
  ChunkId?: ChunkIdFunction;
}

export interface CurrentEpoch {
  epoch: string;
  /** A copy of the data key: the caller wipes it after use. */
  dataKey: Buffer;
  wrappedKey: string;
  chunkIdFunction: ChunkIdFunction;
  /** True when this epoch was started just now: its first backup is a full one. */
  started: boolean;
}

/**
 * The saved epoch of backups of `certificate` to `store`, or null when there is none: what the
 * daemon may maintain (repack) without the .pfx. Never starts an epoch.
 */
export async function savedEpoch(
  state: StateDir,
  certificate: SavedCertificate,
  store: string,
): Promise<CurrentEpoch | null> {
  const saved = await readJsonIfExists<SavedEpoch>(state.repositoryEpochFile);
  if (!saved || saved.CertificateThumbprint !== certificate.thumbprint || saved.Store !== store) return null;
  const dataKey = Buffer.from(await state.open(saved.SealedKey), 'base64');
  return {
    epoch: saved.Epoch,
    dataKey,
    wrappedKey: saved.WrappedKey,
    chunkIdFunction: saved.ChunkId ?? UNNAMED_CHUNK_ID_FUNCTION,
    started: false,
  };
}

/** The epoch for backups of `certificate` to `store`: the saved one, or a new one saved first. */
export async function currentEpoch(
  state: StateDir,
  certificate: SavedCertificate,
  store: string,
): Promise<CurrentEpoch> {
  const saved = await savedEpoch(state, certificate, store);
  if (saved) return saved;
  const dataKey = generateBackupKey();
  const chunkIdFunction = newEpochChunkIdFunction();
  const epoch: SavedEpoch = {
    Epoch: newEpochId(),
    CertificateThumbprint: certificate.thumbprint,
    Store: store,
    WrappedKey: wrapKey(dataKey, certificate.pem),
    SealedKey: await state.seal(dataKey.toString('base64')),
    ChunkId: chunkIdFunction,
  };
  await writeJsonAtomic(state.repositoryEpochFile, epoch);
  return {
    epoch: epoch.Epoch,
    dataKey,
    wrappedKey: epoch.WrappedKey,
    chunkIdFunction,
    started: true,
  };
}
