/**
 * A real blob endpoint for tests: Azurite's blob service (the npm package `azurite`) on 127.0.0.1 at
 * a port the system picks, with its well-known development account; in memory, or in a folder of its
 * own that outlives a stop. Started by a test file and stopped after it; `stop()` is also how a test
 * takes the endpoint away mid-operation, and `restart()` brings it back with the same data and port
 * (and, given a new key, with the account's key rotated, as an operator regenerating it would).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  BlobServiceClient,
  ContainerClient,
  ContainerSASPermissions,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';

const START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 10_000;
const LISTENING = /successfully listens on (http:\/\/\S+)/;

export class AzuriteServer {
  /** Azurite's built-in development account and its published key. */
  static readonly account = 'devstoreaccount1';
  static readonly key =
    'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

  private constructor(
    private readonly child: ChildProcess,
    /** `http://127.0.0.1:<port>/devstoreaccount1`. */
    readonly accountUrl: string,
    private readonly folder: string | null,
    /** The key the account accepts: the published one unless a restart rotated it. */
    readonly accountKey: string,
  ) {}

  /**
   * In memory, or (`folder`) kept in that folder so that a restart finds the data again; the account
   * accepts `key` (base 64, 64 bytes) instead of the published key when one is given.
   */
  static async start(options: { folder?: string; port?: number; key?: string } = {}): Promise<AzuriteServer> {
    const storage = options.folder ? ['--location', options.folder] : ['--inMemoryPersistence'];
    const accountKey = options.key ?? AzuriteServer.key;
    const child = spawn(
      process.execPath,
      [
        azuriteBlobScript(),
        ...['--blobHost', '127.0.0.1', '--blobPort', String(options.port ?? 0), ...storage],
        ...['--disableTelemetry', '--skipApiVersionCheck', '--silent'],
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        // Azurite's way to name accounts and keys; it replaces the development account's published key.
        env: { ...process.env, AZURITE_ACCOUNTS: `${AzuriteServer.account}:${accountKey}` },
      },
    );
    const origin = await listeningOrigin(child);
    return new AzuriteServer(child, `${origin}/${AzuriteServer.account}`, options.folder ?? null, accountKey);
  }

  /** A client of one of this Azurite's containers, signed in with its account key. */
  containerClient(containerUrl: string): ContainerClient {
    return new ContainerClient(containerUrl, this.credential());
  }

  /** Azurite's process id, to read its memory from /proc. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Starts a stopped Azurite again on the same port, with the data of its folder, and with the same
   * key or the new `key`.
   */
  restart(key: string = this.accountKey): Promise<AzuriteServer> {
    if (!this.folder) throw new Error('an in-memory Azurite has nothing to restart with');
    const port = Number(new URL(this.accountUrl).port);
    return AzuriteServer.start({ folder: this.folder, port, key });
  }

  /** A new, empty container; its URL, as `-Path` gives it. */
  async createContainer(name: string): Promise<string> {
    await this.service().getContainerClient(name).create();
    return this.containerUrl(name);
  }

  containerUrl(container: string): string {
    return `${this.accountUrl}/${container}`;
  }

  /** Removes a container and every blob in it, as an operator deleting it by mistake would. */
  async deleteContainer(name: string): Promise<void> {
    await this.service().getContainerClient(name).delete();
  }

  /** The names of the blobs under `prefix`: the committed ones, or also those with only staged blocks. */
  async blobNames(
    container: string,
    options: { prefix?: string; uncommitted?: boolean } = {},
  ): Promise<string[]> {
    const names: string[] = [];
    const listing = this.service()
      .getContainerClient(container)
      .listBlobsFlat({ prefix: options.prefix, includeUncommitedBlobs: options.uncommitted });
    for await (const blob of listing) names.push(blob.name);
    return names;
  }

  /** Stages one block of a blob and never commits it: an upload cut short, as the service keeps it. */
  async stageOnly(container: string, blob: string, content: Buffer): Promise<void> {
    const block = Buffer.from('cut-short-000000').toString('base64');
    await this.service()
      .getContainerClient(container)
      .getBlockBlobClient(blob)
      .stageBlock(block, content, content.length);
  }

  /**
   * A container SAS token valid until `expiresOn`, with every permission a store needs unless
   * `permissions` (e.g. 'r') says fewer.
   */
  sas(container: string, expiresOn: Date, permissions = 'racwdl'): string {
    return generateBlobSASQueryParameters(
      {
        containerName: container,
        permissions: ContainerSASPermissions.parse(permissions),
        startsOn: new Date(Date.now() - 3_600_000),
        expiresOn,
      },
      this.credential(),
    ).toString();
  }

  /** Writes (or replaces) a blob directly, as another writer of the container could. */
  async overwrite(container: string, blob: string, content: Buffer): Promise<void> {
    await this.service()
      .getContainerClient(container)
      .getBlockBlobClient(blob)
      .upload(content, content.length);
  }

  /**
   * Ends Azurite as an operator's stop would (SIGTERM: it closes its connections and saves its
   * folder's index; in-memory data goes), killed when it lingers; waits until it has exited.
   */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    const lingering = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(lingering);
  }

  private service(): BlobServiceClient {
    return new BlobServiceClient(this.accountUrl, this.credential());
  }

  private credential(): StorageSharedKeyCredential {
    return new StorageSharedKeyCredential(AzuriteServer.account, this.accountKey);
  }
}

function azuriteBlobScript(): string {
  const azurite = path.dirname(createRequire(import.meta.url).resolve('azurite/package.json'));
  return path.join(azurite, 'dist/src/blob/main.js');
}

/** Waits for Azurite to say where it listens; fails when it exits or stays silent too long. */
function listeningOrigin(child: ChildProcess): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`Azurite did not start:\n${output}`)), START_TIMEOUT_MS);
    const fail = (error: Error) => (clearTimeout(timer), child.kill(), reject(error));
    const exited = (code: number | null) => fail(new Error(`Azurite exited (${code}):\n${output}`));
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const listening = LISTENING.exec(output);
      if (!listening?.[1]) return;
      clearTimeout(timer);
      child.off('exit', exited);
      child.stderr?.resume();
      resolve(listening[1]);
    });
    child.once('exit', exited);
  });
}
