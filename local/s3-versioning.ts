// Object versioning for the local S3. s3rver keeps one object per key and answers versioning requests with
// NotImplemented; a versioned bucket on AWS keeps every version, names each in `x-amz-version-id`, serves any
// of them by `versionId` and copies one with `x-amz-copy-source: bucket/key?versionId=...`. This layer runs in
// s3rver's Koa app, in front of its router: s3rver keeps the current object, and every version written to a
// bucket whose versioning is Enabled is also kept here, under `<directory>/<bucket>/<key hash>/`.
//
//   PutBucketVersioning / GetBucketVersioning      (CloudFormation's VersioningConfiguration sets it)
//   PutObject, CopyObject, CompleteMultipartUpload  a new version, named in x-amz-version-id
//   CopyObject with ?versionId                     that version copied (x-amz-copy-source-version-id)
//   GetObject / HeadObject [?versionId]            the current version's id; or that version (404 NoSuchVersion)
//   DeleteObject [?versionId]                      a delete marker; or that version removed (the previous one
//                                                  current again)
//
// Not emulated (docs/local-runtime.md): ListObjectVersions, range and conditional reads of a named version,
// delete markers for DeleteObjects (multi-object delete), Suspended versioning's "null" version, MFA delete,
// lifecycle expiry of noncurrent versions.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';

/** The part of a Koa context (s3rver's app) this layer reads and writes. */
export interface S3Context {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string | string[] | undefined>;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly ip: string;
  readonly app: { emit(event: string, payload: unknown): boolean };
  readonly store: S3rverStore;
  status: number;
  body: unknown;
  length: number;
  set(name: string, value: string): void;
  get(name: string): string;
  req: { read?: unknown };
}

interface S3rverObject {
  readonly content: Readable | null;
  readonly metadata: Record<string, string>;
}

/** s3rver's FilesystemStore, as far as this layer uses it. */
export interface S3rverStore {
  getBucket(bucket: string): Promise<unknown>;
  getObject(bucket: string, key: string): Promise<S3rverObject | null>;
  putObject(object: unknown): Promise<{ size: number; md5: string }>;
  deleteObject(bucket: string, key: string): Promise<void>;
}

type Middleware = (ctx: S3Context, next: () => Promise<void>) => Promise<void>;

interface VersionRecord {
  readonly id: string;
  readonly deleteMarker?: true;
  /** The object's metadata as s3rver keeps it: content-type, etag, last-modified, content-length, x-amz-meta-*. */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly lastModified: string;
}

interface KeyVersions {
  readonly key: string;
  /** The current version's id; a delete marker's when the key was deleted. */
  current: string | undefined;
  versions: VersionRecord[];
}

// s3rver's own models: its errors render as S3's XML, its objects and events are what its store and
// listeners expect.
const require = createRequire(import.meta.url);
const S3Error = require('s3rver/lib/models/error') as new (code: string, message: string, detail?: Record<string, string>) => Error;
const S3Object = require('s3rver/lib/models/object') as new (bucket: string, key: string, content: Readable | Buffer | null, metadata: Record<string, string>) => unknown;
const S3Event = require('s3rver/lib/models/event') as new (data: unknown, request: { reqHeaders: unknown; sourceIp: string }) => unknown;

/** Object sub-resources: a request naming one is not about the object's content or versions. */
const OBJECT_SUBRESOURCES = ['acl', 'tagging', 'legal-hold', 'retention', 'torrent', 'uploads', 'select', 'attributes'];

export class S3Versioning {
  private readonly configFile: string;
  private readonly status: Record<string, 'Enabled' | 'Suspended'>;
  /** Writes of one key run one at a time, so the version kept is the content that write left. */
  private readonly writes = new Map<string, Promise<unknown>>();
  /** The version a write in progress is creating, by `<bucket>/<key>` (for the object events it emits). */
  private readonly pending = new Map<string, string>();

  constructor(private readonly directory: string) {
    mkdirSync(directory, { recursive: true });
    this.configFile = join(directory, 'versioning.json');
    this.status = existsSync(this.configFile) ? (JSON.parse(readFileSync(this.configFile, 'utf8')) as Record<string, 'Enabled' | 'Suspended'>) : {};
  }

  /** The version id a write of this key is creating right now, if any: S3 puts it in the object's events. */
  versionBeingWritten(bucket: string, key: string): string | undefined {
    return this.pending.get(`${bucket}/${key}`);
  }

  /** The Koa middleware to put in front of s3rver's router. */
  middleware(): Middleware {
    return async (ctx, next) => {
      const [bucket = '', ...rest] = ctx.path.slice(1).split('/');
      const key = rest.length > 0 ? safeDecode(rest.join('/')) : '';
      if (bucket === '') return next();
      if (key === '') return this.bucketRequest(ctx, safeDecode(bucket), next);
      if (OBJECT_SUBRESOURCES.some((name) => name in ctx.query) && !('uploadId' in ctx.query && ctx.method === 'POST')) return next();
      return this.objectRequest(ctx, safeDecode(bucket), key, next);
    };
  }

  private async bucketRequest(ctx: S3Context, bucket: string, next: () => Promise<void>): Promise<void> {
    if ('versions' in ctx.query && ctx.method === 'GET') throw new S3Error('NotImplemented', 'ListObjectVersions is not emulated by the local S3');
    if (!('versioning' in ctx.query)) return next();
    if (!(await ctx.store.getBucket(bucket))) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    if (ctx.method === 'GET') {
      const status = this.status[bucket];
      ctx.set('content-type', 'application/xml');
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${status ? `<Status>${status}</Status>` : ''}</VersioningConfiguration>`;
      return;
    }
    if (ctx.method !== 'PUT') return next();
    const body = (await readAll(ctx.req as unknown as Readable)).toString('utf8');
    const status = /<Status>\s*([^<]*?)\s*<\/Status>/.exec(body)?.[1];
    if (status !== 'Enabled' && status !== 'Suspended')
      throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    this.status[bucket] = status;
    writeAtomically(this.configFile, JSON.stringify(this.status));
    ctx.status = 200;
    ctx.body = '';
  }

  private async objectRequest(ctx: S3Context, bucket: string, key: string, next: () => Promise<void>): Promise<void> {
    const versionId = typeof ctx.query.versionId === 'string' ? ctx.query.versionId : undefined;
    if (ctx.method === 'GET' || ctx.method === 'HEAD') return this.read(ctx, bucket, key, versionId, next);
    const copySource = ctx.get('x-amz-copy-source');
    const writes = (ctx.method === 'PUT' && !('uploadId' in ctx.query)) || (ctx.method === 'POST' && 'uploadId' in ctx.query);
    if (writes) return this.serialized(bucket, key, () => this.write(ctx, bucket, key, copySource || undefined, next));
    if (ctx.method === 'DELETE' && !('uploadId' in ctx.query)) return this.serialized(bucket, key, () => this.remove(ctx, bucket, key, versionId, next));
    return next();
  }

  private async read(ctx: S3Context, bucket: string, key: string, versionId: string | undefined, next: () => Promise<void>): Promise<void> {
    // A read does not see a write half done (s3rver written, the version not yet kept).
    await this.writes.get(`${bucket}/${key}`)?.catch(() => undefined);
    const versions = this.versionsOf(bucket, key);
    if (versionId === undefined) {
      await next();
      const current = versions?.versions.find((v) => v.id === versions.current);
      if (ctx.status < 300 && current && !current.deleteMarker) ctx.set('x-amz-version-id', current.id);
      return;
    }
    // A named version, current or not, is served from the versions kept here.
    const version = versions?.versions.find((v) => v.id === versionId);
    if (!version) throw new S3Error('NoSuchVersion', 'The specified version does not exist.', { Key: key, VersionId: versionId });
    if (version.deleteMarker) {
      ctx.set('x-amz-delete-marker', 'true');
      ctx.set('x-amz-version-id', version.id);
      throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', { Method: ctx.method, ResourceType: 'DeleteMarker' });
    }
    for (const [name, value] of Object.entries(version.metadata ?? {})) ctx.set(name, value);
    ctx.set('x-amz-version-id', version.id);
    ctx.set('accept-ranges', 'bytes');
    ctx.status = 200;
    const file = this.contentFile(bucket, key, version.id);
    if (ctx.method === 'HEAD') ctx.length = Number(version.metadata?.['content-length'] ?? 0);
    else ctx.body = createReadStream(file);
  }

  private async write(ctx: S3Context, bucket: string, key: string, copySource: string | undefined, next: () => Promise<void>): Promise<void> {
    const source = copySource === undefined ? undefined : parseCopySource(copySource);
    const sourceVersions = source ? this.versionsOf(source.bucket, source.key) : undefined;
    const keeps = this.status[bucket] === 'Enabled';
    const versionId = keeps ? newVersionId() : undefined;
    if (versionId) this.pending.set(`${bucket}/${key}`, versionId);
    try {
      // A named version, current or not, is copied from the versions kept here; s3rver copies the current object.
      if (source?.versionId !== undefined) await this.copyVersion(ctx, source as Required<CopySource>, bucket, key);
      else await next();
    } finally {
      if (versionId) this.pending.delete(`${bucket}/${key}`);
    }
    if (ctx.status >= 300) return;
    if (source) {
      const copied = source.versionId ?? sourceVersions?.current;
      if (copied && this.status[source.bucket]) ctx.set('x-amz-copy-source-version-id', copied);
    }
    if (!versionId) return;
    await this.keep(ctx.store, bucket, key, versionId);
    ctx.set('x-amz-version-id', versionId);
  }

  /** CopyObject of a named version: s3rver knows none, so the copy is made here, from the version kept. */
  private async copyVersion(ctx: S3Context, source: Required<CopySource>, bucket: string, key: string): Promise<void> {
    const version = this.versionsOf(source.bucket, source.key)?.versions.find((v) => v.id === source.versionId);
    if (!version || version.deleteMarker) throw new S3Error('NoSuchVersion', 'The specified version does not exist.', { Key: source.key, VersionId: source.versionId });
    if (!(await ctx.store.getBucket(bucket))) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    const replace = ctx.get('x-amz-metadata-directive') === 'REPLACE';
    const metadata = replace ? (ctx.headers as Record<string, string>) : { ...version.metadata };
    const { size, md5 } = await ctx.store.putObject(new S3Object(bucket, key, createReadStream(this.contentFile(source.bucket, source.key, source.versionId)), metadata));
    ctx.app.emit(
      'event',
      new S3Event({ bucket, eventType: 'Copy', S3Item: { key, size, metadata: { etag: JSON.stringify(md5) } } }, { reqHeaders: ctx.headers, sourceIp: ctx.ip }),
    );
    ctx.status = 200;
    ctx.set('content-type', 'application/xml');
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<CopyObjectResult><LastModified>${new Date().toISOString()}</LastModified><ETag>&quot;${md5}&quot;</ETag></CopyObjectResult>`;
  }

  private async remove(ctx: S3Context, bucket: string, key: string, versionId: string | undefined, next: () => Promise<void>): Promise<void> {
    const versions = this.versionsOf(bucket, key);
    if (versionId === undefined) {
      await next();
      if (ctx.status >= 300 || this.status[bucket] !== 'Enabled') return;
      const marker: VersionRecord = { id: newVersionId(), deleteMarker: true, lastModified: new Date().toISOString() };
      this.save(bucket, { key, current: marker.id, versions: [...(versions?.versions ?? []), marker] });
      ctx.set('x-amz-delete-marker', 'true');
      ctx.set('x-amz-version-id', marker.id);
      return;
    }
    const version = versions?.versions.find((v) => v.id === versionId);
    if (!versions || !version) throw new S3Error('NoSuchVersion', 'The specified version does not exist.', { Key: key, VersionId: versionId });
    const remaining = versions.versions.filter((v) => v.id !== versionId);
    if (versions.current === versionId) {
      // The previous version becomes the current one again: back into s3rver, or nothing there behind a marker.
      const previous = remaining[remaining.length - 1];
      await ctx.store.deleteObject(bucket, key);
      if (previous && !previous.deleteMarker)
        await ctx.store.putObject(new S3Object(bucket, key, createReadStream(this.contentFile(bucket, key, previous.id)), { ...previous.metadata }));
      versions.current = previous?.id;
    }
    versions.versions = remaining;
    this.save(bucket, versions);
    rmSync(this.contentFile(bucket, key, versionId), { force: true });
    if (version.deleteMarker) ctx.set('x-amz-delete-marker', 'true');
    ctx.set('x-amz-version-id', versionId);
    ctx.status = 204;
    ctx.body = null;
  }

  /** Keeps what s3rver now holds for the key as version `versionId`, the current one. */
  private async keep(store: S3rverStore, bucket: string, key: string, versionId: string): Promise<void> {
    const object = await store.getObject(bucket, key);
    if (!object?.content) return;
    mkdirSync(this.keyDirectory(bucket, key), { recursive: true });
    await pipeline(object.content, createWriteStream(this.contentFile(bucket, key, versionId)));
    const versions = this.versionsOf(bucket, key) ?? { key, current: undefined, versions: [] };
    versions.versions.push({ id: versionId, metadata: object.metadata, lastModified: object.metadata['last-modified'] ?? new Date().toUTCString() });
    versions.current = versionId;
    this.save(bucket, versions);
  }

  private async serialized(bucket: string, key: string, work: () => Promise<void>): Promise<void> {
    const id = `${bucket}/${key}`;
    const run = (this.writes.get(id) ?? Promise.resolve()).catch(() => undefined).then(work);
    this.writes.set(id, run);
    try {
      await run;
    } finally {
      if (this.writes.get(id) === run) this.writes.delete(id);
    }
  }

  private versionsOf(bucket: string, key: string): KeyVersions | undefined {
    const file = join(this.keyDirectory(bucket, key), 'index.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as KeyVersions) : undefined;
  }

  private save(bucket: string, versions: KeyVersions): void {
    mkdirSync(this.keyDirectory(bucket, versions.key), { recursive: true });
    writeAtomically(join(this.keyDirectory(bucket, versions.key), 'index.json'), JSON.stringify(versions));
  }

  private keyDirectory(bucket: string, key: string): string {
    return join(this.directory, bucket, createHash('sha256').update(key).digest('hex').slice(0, 32));
  }

  private contentFile(bucket: string, key: string, versionId: string): string {
    return join(this.keyDirectory(bucket, key), `${versionId}.object`);
  }
}

interface CopySource {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
}

/** `x-amz-copy-source`: `[/]bucket/key[?versionId=id]`, the key URL-encoded. */
function parseCopySource(header: string): CopySource {
  const [path = '', query = ''] = header.split('?');
  const decoded = safeDecode(path.replace(/^\//, ''));
  const slash = decoded.indexOf('/');
  const versionId = new URLSearchParams(query).get('versionId') ?? undefined;
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1), ...(versionId ? { versionId } : {}) };
}

/** S3 version ids: 32 URL-safe characters. */
function newVersionId(): string {
  return randomBytes(24).toString('base64url');
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
