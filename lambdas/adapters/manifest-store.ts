import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { parseManifestJson, type Manifest } from '../core/manifest';

/**
 * Manifests of served model versions, read from `models/<model>/<version>/manifest.json` (the layout the
 * inference function serves from) and kept for the life of the container: a version's manifest never
 * changes. A version whose manifest cannot be read is asked for again after `retryAfterMs`.
 */
export class ManifestStore {
  private readonly found = new Map<string, Manifest>();
  private readonly missing = new Map<string, { at: number; reason: string }>();
  private readonly listed = new Map<string, { at: number; versions: readonly string[] }>();

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly retryAfterMs = 60_000,
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

  /** The manifest, or the reason it is not available (missing object, invalid manifest). */
  async get(model: string, version: string): Promise<Manifest | { reason: string }> {
    const key = `${model}#${version}`;
    const cached = this.found.get(key);
    if (cached) return cached;
    const failed = this.missing.get(key);
    if (failed && Date.now() - failed.at < this.retryAfterMs) return { reason: failed.reason };
    const objectKey = `models/${model}/${version}/manifest.json`;
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      const text = await (response.Body as { transformToString(): Promise<string> }).transformToString();
      const manifest = parseManifestJson(text);
      this.found.set(key, manifest);
      this.missing.delete(key);
      return manifest;
    } catch (error) {
      const reason = `s3://${this.bucket}/${objectKey}: ${(error as Error).name}: ${(error as Error).message}`;
      this.missing.set(key, { at: Date.now(), reason });
      return { reason };
    }
  }
}
