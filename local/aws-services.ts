import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import { S3Versioning } from './s3-versioning';

export interface LocalService {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  close(): Promise<void>;
}

/** The address local services bind to unless told otherwise: loopback only. */
export const LOOPBACK = '127.0.0.1';

interface LevelIterator {
  close(): Promise<void>;
  return?: () => Promise<void>;
}
type IteratorFactory = (options?: unknown) => LevelIterator;
interface DynaliteStore {
  readonly db: { keys: IteratorFactory; values: IteratorFactory };
}

let iteratorsClosed = false;

/**
 * dynalite 4 reads LevelDB through streams that close their iterator with `iterator.return()` once they end or
 * are destroyed, but the iterators of abstract-level (its LevelDB layer) have `close()` and no `return()`: every
 * Query, Scan and listing left its iterator open. An open iterator pins the LevelDB version it reads, so the table
 * files compaction replaced were never deleted, and stayed mapped in memory: under load the state folder grew to
 * 25 times its data and the runtime's resident memory with it (docs/reliability.md, "Soak"). Each iterator
 * dynalite's store opens gets the `return()` its streams call.
 */
function closeDynaliteIterators(): void {
  if (iteratorsClosed) return;
  iteratorsClosed = true;
  const storage = createRequire(import.meta.url)('dynalite/db/index.js') as { create: (options: object) => DynaliteStore };
  const create = storage.create;
  storage.create = (options) => {
    const store = create(options);
    for (const kind of ['keys', 'values'] as const) {
      const open = store.db[kind].bind(store.db);
      store.db[kind] = (iteratorOptions) =>
        Object.assign(open(iteratorOptions), {
          return(this: LevelIterator) {
            return this.close();
          },
        });
    }
    return store;
  };
}

/**
 * Starts dynalite (DynamoDB's protocol and validation, LevelDB storage). With `path` the data persists
 * there; without, it lives in memory. Port 0 picks a free port.
 */
export async function startDynamoDb(options: { port?: number; host?: string; path?: string } = {}): Promise<LocalService> {
  closeDynaliteIterators();
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.path ? { path: options.path } : {}) });
  const host = options.host ?? LOOPBACK;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://${host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface LocalS3 extends LocalService {
  /** s3rver itself, to subscribe to its object events (`event`). */
  readonly server: S3rver;
  /** Object versions of versioned buckets (s3rver has none): the version a write is creating goes into its events. */
  readonly versioning: S3Versioning;
}

/**
 * Starts s3rver (S3's protocol, files under `directory`) with the given buckets created, and object versioning
 * for buckets whose versioning is enabled (PutBucketVersioning; versions kept under `<directory>-versions`).
 */
export async function startS3(options: { directory: string; buckets: readonly string[]; port?: number; host?: string }): Promise<LocalS3> {
  const host = options.host ?? LOOPBACK;
  const server = new S3rver({
    address: host,
    port: options.port ?? 0,
    silent: true,
    directory: options.directory,
    allowMismatchedSignatures: true,
    configureBuckets: options.buckets.map((name) => ({ name })),
  });
  const versioning = new S3Versioning(`${options.directory}-versions`);
  server.middleware.unshift(versioning.middleware() as never);
  const { port } = await server.run();
  return { endpoint: `http://${host}:${port}`, server, versioning, close: () => server.close() };
}
