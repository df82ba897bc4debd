import { createHash } from 'node:crypto';
import { GetObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import { parseManifestJson, type Manifest } from '../core/manifest';
import { PackedBundleError, unpackBundle } from '../core/packed-bundle';

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

/**
 * Reads `<prefix>manifest.json` and the model file it names from S3, and checks the model's sha256.
 * With `packedFile` (the pipeline names it in the function version's environment) the bundle is read
 * from that one object instead (core/packed-bundle.ts): one S3 request at cold start instead of two.
 */
export async function fetchBundle(s3: S3Client, bucket: string, prefix: string, packedFile?: string): Promise<Bundle> {
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
  if (packedFile !== undefined) return fetchPackedBundle(s3, bucket, `${base}${packedFile}`);
  // Bundles almost always name their model model.onnx: fetch it alongside the manifest to save a
  // round trip at cold start, and fetch again only when the manifest names another file.
  const speculative = getObject(s3, bucket, `${base}${DEFAULT_MODEL_FILE}`);
  speculative.catch(() => undefined);
  const manifestObject = await getObject(s3, bucket, `${base}manifest.json`);
  const manifest = parseManifestJson(new TextDecoder().decode(manifestObject.bytes));
  const modelObject = await (manifest.model.file === DEFAULT_MODEL_FILE ? speculative : getObject(s3, bucket, `${base}${manifest.model.file}`));
  checkSha256(manifest, modelObject.bytes, `s3://${bucket}/${base}${manifest.model.file}`);
  return { manifest, modelBytes: modelObject.bytes, ...(modelObject.versionId ? { modelObjectVersion: modelObject.versionId } : {}) };
}

async function fetchPackedBundle(s3: S3Client, bucket: string, key: string): Promise<Bundle> {
  const object = await getObject(s3, bucket, key);
  let unpacked: ReturnType<typeof unpackBundle>;
  try {
    unpacked = unpackBundle(object.bytes);
  } catch (error) {
    if (error instanceof PackedBundleError) throw new BundleError(`s3://${bucket}/${key}: ${error.message}`);
    throw error;
  }
  const manifest = parseManifestJson(unpacked.manifestText);
  checkSha256(manifest, unpacked.modelBytes, `s3://${bucket}/${key} (model ${manifest.model.file})`);
  return { manifest, modelBytes: unpacked.modelBytes, ...(object.versionId ? { modelObjectVersion: object.versionId } : {}) };
}

function checkSha256(manifest: Manifest, modelBytes: Uint8Array, where: string): void {
  const actual = sha256Hex(modelBytes);
  if (actual !== manifest.model.sha256) {
    throw new BundleError(`${where}: sha256 is ${actual}, the manifest says ${manifest.model.sha256} (corrupt or replaced model file)`);
  }
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
