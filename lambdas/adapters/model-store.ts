import { createHash } from 'node:crypto';
import { GetObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import { parseManifestJson, type Manifest } from '../core/manifest';

/** A bundle that cannot be served: missing object, checksum mismatch. The message says which and where. */
export class BundleError extends Error {
  override readonly name = 'BundleError';
}

export interface Bundle {
  readonly manifest: Manifest;
  readonly modelBytes: Uint8Array;
  /** S3 object version of model.onnx (lineage), when the bucket is versioned. */
  readonly modelObjectVersion?: string;
}

const DEFAULT_MODEL_FILE = 'model.onnx';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads `<prefix>manifest.json` and the model file it names from S3, and checks the model's sha256. */
export async function fetchBundle(s3: S3Client, bucket: string, prefix: string): Promise<Bundle> {
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
  // Bundles almost always name their model model.onnx: fetch it alongside the manifest to save a
  // round trip at cold start, and fetch again only when the manifest names another file.
  const speculative = getObject(s3, bucket, `${base}${DEFAULT_MODEL_FILE}`);
  speculative.catch(() => undefined);
  const manifestObject = await getObject(s3, bucket, `${base}manifest.json`);
  const manifest = parseManifestJson(new TextDecoder().decode(manifestObject.bytes));
  const modelObject = await (manifest.model.file === DEFAULT_MODEL_FILE ? speculative : getObject(s3, bucket, `${base}${manifest.model.file}`));
  const actual = sha256Hex(modelObject.bytes);
  if (actual !== manifest.model.sha256) {
    throw new BundleError(
      `s3://${bucket}/${base}${manifest.model.file}: sha256 is ${actual}, the manifest says ${manifest.model.sha256} (corrupt or replaced model file)`,
    );
  }
  return { manifest, modelBytes: modelObject.bytes, ...(modelObject.versionId ? { modelObjectVersion: modelObject.versionId } : {}) };
}

async function getObject(s3: S3Client, bucket: string, key: string): Promise<{ bytes: Uint8Array; versionId?: string }> {
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
    return { bytes, ...(response.VersionId ? { versionId: response.VersionId } : {}) };
  } catch (error) {
    if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') {
      throw new BundleError(`s3://${bucket}/${key} does not exist`);
    }
    // Without s3:ListBucket (the function is not granted it) S3 answers a missing key with 403.
    if ((error as { name?: string }).name === 'AccessDenied') {
      throw new BundleError(`s3://${bucket}/${key} does not exist or this function may not read it (S3 AccessDenied)`);
    }
    throw error;
  }
}
