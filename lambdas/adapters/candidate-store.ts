// Candidate bundles in S3: reading an upload under candidates/<model>/<version>/ (tolerating files that
// arrive after the manifest, as unordered sync tools upload them) and copying an accepted bundle to
// models/<model>/<version>/, where the inference function reads it.
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

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

  /** Reads an object; undefined when it does not exist (after `waitMs` of polling). */
  async read(key: string, waitMs = 0): Promise<StoredObject | undefined> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
        const bytes = await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
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

  async require(key: string, waitMs = 0): Promise<StoredObject> {
    const found = await this.read(key, waitMs);
    if (!found) throw new MissingObjectError(`s3://${this.bucket}/${key} does not exist`);
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

  /** Copies files from one prefix to another, in the order given (put the manifest last). */
  async copy(fromPrefix: string, toPrefix: string, files: readonly string[]): Promise<Record<string, string | undefined>> {
    const versions: Record<string, string | undefined> = {};
    for (const file of files) {
      const copied = await this.s3.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: `${toPrefix}${file}`,
          CopySource: `${this.bucket}/${encodeURI(`${fromPrefix}${file}`)}`,
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
