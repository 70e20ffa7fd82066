/**
 * An Azure Blob Storage container (or any endpoint that speaks its API: Azure Stack Hub, Azurite) as
 * the external store, through the official SDK (@azure/storage-blob; docs/storage.md says why).
 *
 * The store's root is a name prefix in the container; folders are prefixes below it, and an empty
 * folder is a zero-length marker blob named `<folder>/`. A file is written as staged blocks (a few
 * at a time, each held in memory once) and appears only when its block list is committed: nothing
 * is renamed. Reads stream the blob's body. The SDK's own retries are off: transient failures
 * (connectivity, 500/503 throttling) are retried by the store's one retry policy (smbRetry.ts),
 * around whole idempotent operations and around each staged block.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import type { BlockBlobClient, ContainerClient, RequestPolicyFactory } from '@azure/storage-blob';
import { AzsError } from '../protocol/errors.js';
import { type FileDigest, digestStream } from '../util/fileDigest.js';
import { blobFailure, isBlobNotFound, stalledDownload } from './blobErrors.js';
import {
  type BlobCredential,
  type BlobLocation,
  blobLocationOf,
  parseBlobCredential,
} from './blobLocation.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, retryTransient } from './smbRetry.js';
import type { BackupStore, Capacity, SessionInfo, StoreEntry, StoreSettings } from './store.js';

export interface BlobStoreOptions {
  /**
   * Bytes of the first blocks staged (default 2 MiB: with 2 staged at once an upload holds about
   * 6 MiB). The size doubles after every `blocksPerSize` blocks, so that the service's limit of
   * 50,000 blocks a blob still allows 620 GiB while files of up to 19.5 GiB keep the small blocks.
   */
  blockBytes?: number;
  /** Blocks of one size before the size doubles (default 10,000). */
  blocksPerSize?: number;
  /** Blocks staged at once; memory held is about the block size times this plus one (default 2). */
  parallelBlocks?: number;
  /** Retries of one staged block (default: the store's retry policy). */
  blockRetry?: Partial<RetryPolicy>;
  /**
   * Seconds a request may wait for the answer to begin, and a download's body may stall while it is
   * read, before it fails as ShareUnreachable (default 60).
   */
  timeoutSeconds?: number;
}

const MiB = 1024 * 1024;
/** Blobs removed at once when a folder is removed. */
const REMOVE_PARALLEL = 16;

export class BlobStore implements BackupStore {
  readonly location: string;
  private readonly blobLocation: BlobLocation;
  private readonly credential: BlobCredential;
  /**
   * Made at the first request: loading the SDK takes 0.15 s, which a daemon or command that never
   * talks to a container should not pay.
   */
  private container: Promise<ContainerClient> | undefined;
  private readonly blockBytes: number;
  private readonly blocksPerSize: number;
  private readonly parallelBlocks: number;
  private readonly blockRetry: RetryPolicy;
  private readonly timeoutMs: number;

  constructor(settings: StoreSettings, options: BlobStoreOptions = {}) {
    this.location = settings.path;
    this.blobLocation = blobLocationOf(settings);
    this.credential = parseBlobCredential(settings, this.blobLocation);
    this.timeoutMs = (options.timeoutSeconds ?? 60) * 1000;
    this.blockBytes = options.blockBytes ?? 2 * MiB;
    this.blocksPerSize = options.blocksPerSize ?? 10_000;
    this.parallelBlocks = options.parallelBlocks ?? 2;
    this.blockRetry = { ...DEFAULT_RETRY_POLICY, ...options.blockRetry };
  }

  /** Lists (at most) one blob under the root: what a SAS limited to the container allows. */
  async checkRoot(): Promise<void> {
    await this.guard('', (container) =>
      container.listBlobsFlat({ prefix: this.blobLocation.prefix }).byPage({ maxPageSize: 1 }).next(),
    );
  }

  /** A marker blob keeps the folder when nothing is in it yet; its parents are prefixes of it. */
  async mkdir(relativePath: string): Promise<void> {
    const folder = this.folderPrefix(relativePath);
    if (folder === this.blobLocation.prefix) return this.checkRoot();
    if ((await this.stat(relativePath))?.type === 'directory') return;
    await this.guard(relativePath, (container) => container.getBlockBlobClient(folder).upload('', 0));
  }

  async writeFile(relativePath: string, source: Readable): Promise<number> {
    const blob = (await this.client()).getBlockBlobClient(this.blobName(relativePath));
    const { blockIds, bytes } = await this.stageAll(blob, source, relativePath);
    await this.guard(relativePath, () => blob.commitBlockList(blockIds));
    return bytes;
  }

  async readFile(relativePath: string): Promise<Readable> {
    const name = this.blobName(relativePath);
    const response = await this.guard(relativePath, (container) =>
      container.getBlobClient(name).download(0, undefined, { maxRetryRequests: 0 }),
    );
    const body = response.readableStreamBody as Readable | undefined;
    const data = new PassThrough({ highWaterMark: MiB });
    if (!body) return (data.end(), data);
    const context = this.context(relativePath);
    body.once('error', (error) => data.destroy(blobFailure(error, context)));
    const watch = watchForStall(body, this.timeoutMs, () =>
      data.destroy(stalledDownload(context, this.timeoutMs / 1000)),
    );
    data.once('close', () => (watch.stop(), body.destroy()));
    body.pipe(data);
    return data;
  }

  async digest(relativePath: string): Promise<FileDigest> {
    return digestStream(await this.readFile(relativePath));
  }

  async list(relativePath: string): Promise<StoreEntry[]> {
    const folder = this.folderPrefix(relativePath);
    const entries: StoreEntry[] = [];
    await this.guard(relativePath, async (container) => {
      for await (const item of container.listBlobsByHierarchy('/', { prefix: folder })) {
        const name = item.name.slice(folder.length).replace(/\/$/, '');
        if (!name) continue; // the folder's own marker
        entries.push(
          item.kind === 'prefix'
            ? { name, type: 'directory', size: 0, modified: new Date(0) }
            : {
                name,
                type: 'file',
                size: item.properties.contentLength ?? 0,
                modified: item.properties.lastModified,
              },
        );
      }
    });
    return entries;
  }

  async stat(relativePath: string): Promise<StoreEntry | null> {
    const name = relativePath.split('/').filter(Boolean).at(-1);
    if (!name) {
      await this.checkRoot();
      return { name: '', type: 'directory', size: 0, modified: new Date(0) };
    }
    const properties = await this.guard(relativePath, (container) =>
      container
        .getBlobClient(this.blobName(relativePath))
        .getProperties()
        .catch((error: unknown) => {
          if (isBlobNotFound(error)) return null;
          throw error;
        }),
    );
    if (properties) {
      return {
        name,
        type: 'file',
        size: properties.contentLength ?? 0,
        modified: properties.lastModified ?? new Date(0),
      };
    }
    return (await this.firstBlobUnder(relativePath))
      ? { name, type: 'directory', size: 0, modified: new Date(0) }
      : null;
  }

  /** The blob of that name and every blob below it as a folder, markers included. */
  async remove(relativePath: string): Promise<void> {
    const name = this.blobName(relativePath);
    await this.guard(relativePath, async (container) => {
      await container.getBlobClient(name).deleteIfExists();
      for await (const page of container
        .listBlobsFlat({ prefix: `${name}/` })
        .byPage({ maxPageSize: REMOVE_PARALLEL })) {
        await Promise.all(
          page.segment.blobItems.map((blob) => container.getBlobClient(blob.name).deleteIfExists()),
        );
      }
    });
  }

  async capacity(): Promise<Capacity | null> {
    await this.checkRoot();
    return null;
  }

  /** HTTPS encrypts, and its TLS record MACs protect every message; plain HTTP does neither. */
  async sessionInfo(): Promise<SessionInfo> {
    const { https } = this.blobLocation;
    return {
      protocol: https ? 'Azure Blob over HTTPS' : 'Azure Blob over HTTP',
      encrypted: https,
      signed: https,
    };
  }

  async close(): Promise<void> {}

  /**
   * Stages `source` as blocks, parallelBlocks at a time. Block buffers are reused once staged, so
   * memory stays at parallelBlocks + 1 blocks however long the file (fresh ones would pile up until
   * the garbage collector ran); a buffer of the size before a doubling is dropped. Block ids are
   * unique to this upload, so that two uploads of one name never mix blocks, and all of one length,
   * as the service requires.
   */
  private async stageAll(
    blob: BlockBlobClient,
    source: Readable,
    target: string,
  ): Promise<{ blockIds: string[]; bytes: number }> {
    const upload = randomBytes(8).toString('hex');
    const blockIds: string[] = [];
    const staging = new Set<Promise<void>>();
    const spare: Buffer[] = [];
    let stageFailure: unknown = null;
    let bytes = 0;
    const nextBuffer = (index: number) => {
      const size = this.blockBytes * 2 ** Math.floor(index / this.blocksPerSize);
      let buffer = spare.pop();
      while (buffer && buffer.length !== size) buffer = spare.pop();
      return buffer ?? Buffer.allocUnsafe(size);
    };
    try {
      for await (const block of blocksOf(source, nextBuffer)) {
        if (stageFailure !== null) break;
        const id = Buffer.from(`${upload}-${String(blockIds.length).padStart(6, '0')}`).toString('base64');
        blockIds.push(id);
        bytes += block.length;
        const staged: Promise<void> = this.stage(blob, id, block, target)
          .then(() => void spare.push(block))
          .catch((error: unknown) => void (stageFailure ??= error))
          .finally(() => staging.delete(staged));
        staging.add(staged);
        while (staging.size >= this.parallelBlocks) await Promise.race(staging);
      }
    } finally {
      // A failed source is passed on as it is, once no block is still under way.
      await Promise.all(staging);
    }
    if (stageFailure !== null) throw stageFailure;
    return { blockIds, bytes };
  }

  private async stage(blob: BlockBlobClient, id: string, block: Buffer, target: string): Promise<void> {
    await retryTransient(this.blockRetry, 'stageBlock', () =>
      this.guard(target, () => blob.stageBlock(id, block, block.length)),
    );
  }

  private async firstBlobUnder(relativePath: string): Promise<boolean> {
    const folder = this.folderPrefix(relativePath);
    const page = await this.guard(relativePath, (container) =>
      container.listBlobsFlat({ prefix: folder }).byPage({ maxPageSize: 1 }).next(),
    );
    return !page.done && page.value.segment.blobItems.length > 0;
  }

  /** The blob name of a path below the root (not the root itself). */
  private blobName(relativePath: string): string {
    const parts = relativePath.split('/').filter(Boolean);
    if (parts.length === 0) {
      throw new AzsError(
        'InvalidParameter',
        'A file operation needs a path below the store root; it got the root.',
        {
          target: relativePath,
        },
      );
    }
    return this.blobLocation.prefix + parts.join('/');
  }

  /** The name prefix of a folder's content: the root's prefix for ''. */
  private folderPrefix(relativePath: string): string {
    return (
      this.blobLocation.prefix +
      relativePath
        .split('/')
        .filter(Boolean)
        .map((part) => `${part}/`)
        .join('')
    );
  }

  /** Runs a request on the container and maps its failure to the store's reasons. */
  private async guard<T>(target: string, request: (container: ContainerClient) => Promise<T>): Promise<T> {
    try {
      return await request(await this.client());
    } catch (error) {
      throw blobFailure(error, this.context(target));
    }
  }

  private client(): Promise<ContainerClient> {
    this.container ??= containerClient(this.blobLocation, this.credential, this.timeoutMs);
    return this.container;
  }

  private context(target: string) {
    return { location: this.location, blobLocation: this.blobLocation, credential: this.credential, target };
  }
}

async function containerClient(
  location: BlobLocation,
  credential: BlobCredential,
  timeoutMs: number,
): Promise<ContainerClient> {
  const { AnonymousCredential, ContainerClient, StorageSharedKeyCredential, newPipeline } =
    await import('@azure/storage-blob');
  const signer =
    credential.kind === 'key'
      ? new StorageSharedKeyCredential(credential.account, credential.key)
      : new AnonymousCredential();
  // One retry policy for the store (smbRetry.ts), not a second one inside the SDK.
  const pipeline = newPipeline(signer, { retryOptions: { maxTries: 1 } });
  pipeline.factories.push(answerDeadline(timeoutMs));
  const url =
    credential.kind === 'sas' ? `${location.containerUrl}?${credential.token}` : location.containerUrl;
  return new ContainerClient(url, pipeline);
}

/**
 * Aborts a request whose answer has not begun within `timeoutMs` (the timer ends once the response's
 * headers are in, so a long download is not cut): an endpoint that takes the connection and never
 * answers fails as ShareUnreachable instead of holding the job for ever. Not the SDK's own
 * `request.timeout`: its HTTP client clears that timer only after an answer, so each request that
 * failed without one (a refused connection) left a live minute-long timer, which kept a stopping
 * daemon running until the last one fired.
 */
function answerDeadline(timeoutMs: number): RequestPolicyFactory {
  return {
    create: (next) => ({
      sendRequest: async (request) => {
        const deadline = new AbortController();
        const timer = setTimeout(() => deadline.abort(), timeoutMs);
        const given = request.abortSignal as AbortSignal | undefined;
        request.abortSignal = given ? AbortSignal.any([given, deadline.signal]) : deadline.signal;
        try {
          return await next.sendRequest(request);
        } finally {
          clearTimeout(timer);
        }
      },
    }),
  };
}

/**
 * Calls `onStall` once when `body` delivers nothing for `timeoutMs` while its reader waits for it.
 * The answer deadline covers only the wait for the headers: a connection that stays open with no
 * data coming (a hung endpoint, a half-dead network path) would otherwise hold the job for ever.
 * Time the reader spends not reading (the body paused by the pipe's backpressure) does not count.
 */
function watchForStall(body: Readable, timeoutMs: number, onStall: () => void): { stop(): void } {
  let last = Date.now();
  const touch = () => void (last = Date.now());
  const timer = setInterval(
    () => {
      if (body.isPaused()) touch();
      if (Date.now() - last < timeoutMs) return;
      stop();
      onStall();
    },
    Math.min(1000, timeoutMs),
  );
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    body.off('data', touch);
  };
  body.on('data', touch);
  body.once('close', stop);
  return { stop };
}

/**
 * `source` cut into blocks, each filling the buffer `nextBuffer` gives for its index (the last one
 * shorter), the bytes copied once. A block is the caller's until it hands its buffer back.
 */
async function* blocksOf(source: Readable, nextBuffer: (index: number) => Buffer): AsyncGenerator<Buffer> {
  let index = 0;
  let block = nextBuffer(index);
  let filled = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    for (let offset = 0; offset < chunk.length;) {
      const copied = chunk.copy(block, filled, offset);
      filled += copied;
      offset += copied;
      if (filled === block.length) {
        yield block;
        index += 1;
        block = nextBuffer(index);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield block.subarray(0, filled);
}
