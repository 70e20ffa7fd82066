/**
 * `azsbackup extract --backup <URL>`: a backup folder in a blob container, read through the blob
 * store as the engine reads one. The credential (a SAS token or the account key) comes from
 * AZSBACKUP_STORE_PASSWORD, --store-password-file or a silent prompt, never from argv; the store's
 * failures, which state facts only, get the advice worded for these options (as the engine words
 * it for the cmdlets' parameters in engine/storeAdvice.ts).
 */
import { MANIFEST_NAME } from '../engine/layout.js';
import { readManifestBytes } from '../engine/catalog.js';
import { readerOf } from '../engine/recoveryVerify.js';
import { AzsError } from '../protocol/errors.js';
import { isBlobPath, parseBlobLocation } from '../storage/blobLocation.js';
import { openStore } from '../storage/openStore.js';
import type { StoreSettings } from '../storage/store.js';
import { StoreError } from '../storage/storeError.js';
import type { BackupSource } from './extract.js';
import { STORE_SECRET_VARIABLE, readSecret } from './secretInput.js';

/** The extract options that say where a backup in a container is and how to sign in to it. */
export interface ContainerOptions {
  backup: string;
  storeUser?: string;
  storePasswordFile?: string;
}

/** A backup folder in a blob container, with what it takes to read it. */
export interface ContainerBackup {
  /** --backup as given: a URL without a query, so never a secret. */
  url: string;
  /** The store whose root is the backup folder's parent (…/MASBackup/<time>), with the credential. */
  settings: StoreSettings;
  /** The backup folder's name in that store: the backup id. */
  folder: string;
}

const STORE_SECRET = 'store-password';
const URL_FORM =
  "Give --backup the backup folder's URL, https://<account>.blob.core.windows.net/<container>[/<prefix>]/MASBackup/<time>/<id>, without a query";
const WHERE_SECRET = `in ${STORE_SECRET_VARIABLE} or the file --store-password-file names`;
const CREDENTIAL = `Give a SAS token for the container, or the account key (with the account name in --store-user), ${WHERE_SECRET}.`;

/**
 * The container backup --backup names, its credential read; null for a folder on this machine,
 * which takes no store option. The URL is checked before the credential is asked for.
 */
export async function containerBackupOf(options: ContainerOptions): Promise<ContainerBackup | null> {
  if (!isBlobPath(options.backup)) {
    refuseStoreOptions(options);
    return null;
  }
  const { parent, folder, containerUrl } = splitBackupUrl(options.backup);
  const secret = await readSecret({
    envVar: STORE_SECRET_VARIABLE,
    file: options.storePasswordFile,
    fileOption: '--store-password-file',
    prompt: `SAS token or account key for ${containerUrl}: `,
    parameter: STORE_SECRET,
    what: 'credential for the container (a SAS token or the account key)',
  });
  if (!secret.trim()) {
    throw new AzsError('InvalidParameter', `The credential for --backup is empty. ${CREDENTIAL}`, {
      parameter: STORE_SECRET,
    });
  }
  return {
    url: options.backup,
    settings: {
      path: parent,
      userName: options.storeUser ?? null,
      password: secret,
      requireEncryption: false,
    },
    folder,
  };
}

/** The backup's manifest and a reader of its stored files, through the blob store. */
export async function openContainerBackup(backup: ContainerBackup): Promise<BackupSource> {
  const store = openStore(backup.settings);
  const manifestFile = `${backup.url.replace(/\/+$/, '')}/${MANIFEST_NAME}`;
  const bytes = await readManifestBytes(store, `${backup.folder}/${MANIFEST_NAME}`).catch(
    (error: unknown) => {
      if (!(error instanceof StoreError && error.reason === 'PathNotFound' && !error.facts.finding)) {
        throw withExtractAdvice(error);
      }
      throw new AzsError(
        'BackupNotFound',
        `${manifestFile} does not exist: --backup must name a backup folder, the one holding ${MANIFEST_NAME} (its URL ends in /MASBackup/<time>/<id>).`,
        { parameter: 'backup', target: backup.url, cause: error },
      );
    },
  );
  return {
    manifestFile,
    manifestText: bytes.toString('utf8'),
    reader: (manifest) => {
      const reader = readerOf(store, { folder: backup.folder, manifest });
      return {
        manifest,
        read: (relative) =>
          reader.read(relative).catch((error: unknown) => {
            throw withExtractAdvice(error);
          }),
        repository: reader.repository,
      };
    },
    close: () => store.close(),
  };
}

/** `<parent>/<id>`: the parent becomes the store's root, as the local path does with a folder. */
function splitBackupUrl(url: string): { parent: string; folder: string; containerUrl: string } {
  let location;
  try {
    location = parseBlobLocation(url);
  } catch (error) {
    throw withExtractAdvice(error);
  }
  const parent = url.replace(/\/+$/, '').replace(/\/[^/]*$/, '');
  const folder = location.prefix.split('/').filter(Boolean).at(-1);
  if (!folder) {
    throw new AzsError(
      'InvalidParameter',
      `--backup '${url}' names the container '${location.container}', not a backup folder in it. ${URL_FORM}.`,
      { parameter: 'backup', target: url },
    );
  }
  return { parent, folder, containerUrl: location.containerUrl };
}

function refuseStoreOptions(options: ContainerOptions): void {
  const given =
    options.storeUser !== undefined ? 'store-user' : options.storePasswordFile ? 'store-password-file' : null;
  if (!given) return;
  throw new AzsError(
    'InvalidParameter',
    `--${given} is for a backup in a blob container, and --backup '${options.backup}' is a folder: leave --${given} out, or give --backup the backup folder's https:// URL.`,
    { parameter: given },
  );
}

/** A store failure with what to do about it in this command's options; anything else as it is. */
function withExtractAdvice(error: unknown): unknown {
  if (!(error instanceof StoreError)) return error;
  const advised = adviceFor(error);
  if (!advised) return error;
  const facts = error.facts.finding === 'bad-setting' ? `--backup ${error.message}` : error.message;
  return new AzsError(error.reason, `${facts} ${advised.advice}`, {
    parameter: advised.parameter,
    target: error.target,
    cause: error,
  });
}

/** The option at fault and what to do; null where the store's message says enough. */
function adviceFor(error: StoreError): { parameter: string; advice: string } | null {
  const { finding } = error.facts;
  switch (error.reason) {
    case 'InvalidParameter':
      return {
        parameter: 'backup',
        advice: `${URL_FORM}; the SAS token or account key goes ${WHERE_SECRET}.`,
      };
    case 'PathNotFound':
      return finding === 'no-container'
        ? { parameter: 'backup', advice: 'Correct the container name in --backup.' }
        : { parameter: 'backup', advice: 'Check that --backup names a whole backup folder.' };
    case 'AuthenticationFailed':
      return finding === 'expired-sas'
        ? { parameter: STORE_SECRET, advice: `Give a new SAS token ${WHERE_SECRET}.` }
        : { parameter: STORE_SECRET, advice: CREDENTIAL };
    case 'StoreAccessDenied':
      return {
        parameter: STORE_SECRET,
        advice: `Give a SAS token with read permission (sp=r), or the account key, ${WHERE_SECRET}.`,
      };
    case 'ShareUnreachable':
      return {
        parameter: 'backup',
        advice: 'Check the host and port in --backup, that the endpoint is up, and the firewall.',
      };
    default:
      return null;
  }
}
