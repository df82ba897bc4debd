// Candidate bundles in S3: reading an upload under candidates/<model>/<version>/ (tolerating files that
// arrive after the manifest, as unordered sync tools upload them) and copying an accepted bundle to
// models/<model>/<version>/, where the inference function reads it — the object versions validation read,
// not whatever is under candidates/ when the copy runs.
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { readObjectBody } from './model-store';

export interface StoredObject {
  readonly bytes: Uint8Array;
  readonly versionId?: string;
  readonly etag?: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** A file the bundle needs is not there (after waiting for it). */
export class MissingObjectError extends Error {
  override readonly name = 'MissingObjectError';
}

export class CandidateStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  /**
   * Reads an object (its `versionId`, or the current version); undefined when it does not exist (after `waitMs`
   * of polling). With `maxBytes`, an object larger than that is refused from its Content-Length, before its body
   * is read (ModelTooLargeError).
   */
  async read(key: string, options: { readonly waitMs?: number; readonly versionId?: string; readonly maxBytes?: number } = {}): Promise<StoredObject | undefined> {
    const deadline = Date.now() + (options.waitMs ?? 0);
    for (;;) {
      try {
        const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(options.versionId ? { VersionId: options.versionId } : {}) }));
        const bytes = await readObjectBody(response, `s3://${this.bucket}/${key}`, options.maxBytes);
        return {
          bytes,
          metadata: response.Metadata ?? {},
          ...(response.VersionId ? { versionId: response.VersionId } : {}),
          ...(response.ETag ? { etag: response.ETag } : {}),
        };
      } catch (error) {
        if (!isMissing(error)) throw error;
        if (Date.now() >= deadline) return undefined;
        await this.sleep(1000);
      }
    }
  }

  async require(key: string, options: { readonly versionId?: string } = {}): Promise<StoredObject> {
    const found = await this.read(key, options);
    if (!found) throw new MissingObjectError(`s3://${this.bucket}/${key}${options.versionId ? ` (version ${options.versionId})` : ''} does not exist`);
    return found;
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  /** Writes an object; its S3 version id when the bucket is versioned. */
  async write(key: string, bytes: Uint8Array): Promise<string | undefined> {
    const written = await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes }));
    return written.VersionId;
  }

  /**
   * Copies the given object version of each file from one prefix to another, in the order given (put the
   * manifest last): what was validated is what goes live, whatever was uploaded over it since. Answers the
   * version id of each copy.
   */
  async copy(fromPrefix: string, toPrefix: string, files: readonly { readonly file: string; readonly versionId: string }[]): Promise<Record<string, string | undefined>> {
    const versions: Record<string, string | undefined> = {};
    for (const { file, versionId } of files) {
      const copied = await this.s3.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: `${toPrefix}${file}`,
          CopySource: `${this.bucket}/${encodeURI(`${fromPrefix}${file}`)}?versionId=${encodeURIComponent(versionId)}`,
          MetadataDirective: 'COPY',
        }),
      );
      versions[file] = copied.VersionId;
    }
    return versions;
  }
}

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  // Without s3:ListBucket S3 answers a missing key with 403.
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.name === 'AccessDenied' || e.$metadata?.httpStatusCode === 404;
}
