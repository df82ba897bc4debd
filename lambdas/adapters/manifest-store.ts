import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { parseManifestJson, type Manifest } from '../core/manifest';

/** Reading a manifest kept failing in a way a later try may not (throttling, a 5xx, a timeout, the network). */
export class ManifestUnavailableError extends Error {
  override readonly name = 'ManifestUnavailableError';
}

export interface ManifestReadRetries {
  /** Tries in all, the first included. @default 4 */
  readonly attempts: number;
  /** Wait before the second try; doubled before each next one, with jitter. @default 100 */
  readonly baseDelayMs: number;
}

/**
 * Manifests of served model versions, read from `models/<model>/<version>/manifest.json` (the layout the
 * inference function serves from) and kept for the life of the container: a version's manifest never
 * changes. Only a manifest that is not there (NoSuchKey, or AccessDenied, which S3 answers for a missing key
 * to a caller without s3:ListBucket) or not valid is missing, asked for again after `retryAfterMs`. Any other
 * failure is retried with backoff (on top of the SDK's own retries), then thrown: a stream consumer must fail
 * its batch so the mapping delivers it again, not drop its records as if the version had no manifest.
 */
export class ManifestStore {
  private readonly found = new Map<string, Manifest>();
  private readonly missing = new Map<string, { at: number; reason: string }>();
  private readonly listed = new Map<string, { at: number; versions: readonly string[] }>();

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly retryAfterMs = 60_000,
    private readonly retries: ManifestReadRetries = { attempts: 4, baseDelayMs: 100 },
  ) {}

  /**
   * The manifests of every version of `model` in `models/<model>/` — every version the pipeline accepted —
   * skipping any that cannot be read. The listing is kept for `retryAfterMs` (new versions appear), each
   * manifest for good.
   */
  async servedManifests(model: string): Promise<Manifest[]> {
    const versions = await this.versions(model);
    const manifests = await Promise.all(versions.map((version) => this.get(model, version)));
    return manifests.filter((manifest): manifest is Manifest => !('reason' in manifest));
  }

  private async versions(model: string): Promise<readonly string[]> {
    const cached = this.listed.get(model);
    if (cached && Date.now() - cached.at < this.retryAfterMs) return cached.versions;
    const prefix = `models/${model}/`;
    const versions: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: '/', ...(token ? { ContinuationToken: token } : {}) }));
      for (const common of page.CommonPrefixes ?? []) versions.push((common.Prefix as string).slice(prefix.length, -1));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    this.listed.set(model, { at: Date.now(), versions });
    return versions;
  }

  /** The manifest, or the reason it is missing; throws ManifestUnavailableError when S3 keeps failing. */
  async get(model: string, version: string): Promise<Manifest | { reason: string }> {
    const key = `${model}#${version}`;
    const cached = this.found.get(key);
    if (cached) return cached;
    const failed = this.missing.get(key);
    if (failed && Date.now() - failed.at < this.retryAfterMs) return { reason: failed.reason };
    const objectKey = `models/${model}/${version}/manifest.json`;
    const where = `s3://${this.bucket}/${objectKey}`;
    let text: string;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
        text = await (response.Body as { transformToString(): Promise<string> }).transformToString();
        break;
      } catch (error) {
        if (isMissing(error)) return this.markMissing(key, `${where}: ${describe(error)}`);
        if (attempt >= this.retries.attempts) {
          throw new ManifestUnavailableError(`${where}: still failing after ${attempt} tries: ${describe(error)}`, { cause: error });
        }
        await sleep(this.retries.baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
      }
    }
    try {
      const manifest = parseManifestJson(text);
      this.found.set(key, manifest);
      this.missing.delete(key);
      return manifest;
    } catch (error) {
      return this.markMissing(key, `${where}: ${describe(error)}`);
    }
  }

  private markMissing(key: string, reason: string): { reason: string } {
    this.missing.set(key, { at: Date.now(), reason });
    return { reason };
  }
}

function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NoSuchBucket' || e.name === 'AccessDenied' || e.$metadata?.httpStatusCode === 404 || e.$metadata?.httpStatusCode === 403;
}

function describe(error: unknown): string {
  return `${(error as Error).name}: ${(error as Error).message}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
