import { createHash } from 'node:crypto';
import { GetObjectCommand, NoSuchKey, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { ModelTooLargeError } from '../core/errors';
import { modelSizeLimit, parseManifestJson, type Manifest } from '../core/manifest';
import { PackedBundleError, packedManifestEnd, unpackBundle } from '../core/packed-bundle';

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
 * The bytes of a GetObject answer. With `maxBytes`, an object whose Content-Length is larger is refused before
 * its body is read: the connection is dropped, the bytes never downloaded (ModelTooLargeError). Checking the
 * answer's headers costs no request of its own, where a HeadObject first would add a round trip to every cold
 * start.
 */
export async function readObjectBody(response: GetObjectCommandOutput, where: string, maxBytes?: number): Promise<Uint8Array> {
  const body = response.Body as { transformToByteArray(): Promise<Uint8Array>; destroy?(): void };
  if (maxBytes !== undefined && response.ContentLength !== undefined && response.ContentLength > maxBytes) {
    body.destroy?.();
    throw new ModelTooLargeError(where, response.ContentLength, maxBytes);
  }
  const bytes = await body.transformToByteArray();
  if (maxBytes !== undefined && bytes.length > maxBytes) throw new ModelTooLargeError(where, bytes.length, maxBytes);
  return bytes;
}

/**
 * Reads `<prefix>manifest.json` and the model file it names from S3, and checks the model's sha256; a model
 * file larger than the manifest's limit (`model.maxBytes`) is refused before it is downloaded. With
 * `packedFile` (the pipeline names it in the function version's environment) the bundle is read from that one
 * object instead (core/packed-bundle.ts): one S3 request at cold start instead of two.
 */
export async function fetchBundle(s3: S3Client, bucket: string, prefix: string, packedFile?: string): Promise<Bundle> {
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
  if (packedFile !== undefined) return fetchPackedBundle(s3, bucket, `${base}${packedFile}`);
  // Bundles almost always name their model model.onnx: ask for it alongside the manifest to save a round trip at
  // cold start (its body waits, unread, until the manifest says how large it may be), and ask again only when
  // the manifest names another file.
  const speculative = getObject(s3, bucket, `${base}${DEFAULT_MODEL_FILE}`);
  speculative.catch(() => undefined);
  const manifestObject = await getObject(s3, bucket, `${base}manifest.json`);
  const manifest = parseManifestJson(new TextDecoder().decode(await readObjectBody(manifestObject, `s3://${bucket}/${base}manifest.json`)));
  const where = `s3://${bucket}/${base}${manifest.model.file}`;
  if (manifest.model.file !== DEFAULT_MODEL_FILE)
    void speculative.then(
      (unused) => (unused.Body as { destroy?(): void } | undefined)?.destroy?.(),
      () => undefined,
    );
  const modelObject = await (manifest.model.file === DEFAULT_MODEL_FILE ? speculative : getObject(s3, bucket, `${base}${manifest.model.file}`));
  const modelBytes = await readObjectBody(modelObject, where, modelSizeLimit(manifest));
  checkSha256(manifest, modelBytes, where);
  return { manifest, modelBytes, ...(modelObject.VersionId ? { modelObjectVersion: modelObject.VersionId } : {}) };
}

/**
 * The packed bundle, read as it streams in: the manifest comes first, so the model's size (what follows it) is
 * checked against the manifest's limit before the model's bytes are downloaded.
 */
async function fetchPackedBundle(s3: S3Client, bucket: string, key: string): Promise<Bundle> {
  const where = `s3://${bucket}/${key}`;
  const object = await getObject(s3, bucket, key);
  const body = object.Body as AsyncIterable<Uint8Array> & { destroy?(): void };
  const chunks: Uint8Array[] = [];
  let received = 0;
  let checked = false;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      received += chunk.length;
      if (checked || object.ContentLength === undefined) continue;
      const head = Buffer.concat(chunks);
      const manifestEnd = packedManifestEnd(head);
      if (manifestEnd === undefined || received < manifestEnd) continue;
      const manifest = parseManifestJson(unpackBundle(head.subarray(0, manifestEnd)).manifestText);
      const limit = modelSizeLimit(manifest);
      const modelSize = object.ContentLength - manifestEnd;
      if (modelSize > limit) {
        body.destroy?.();
        throw new ModelTooLargeError(`${where} (model ${manifest.model.file})`, modelSize, limit);
      }
      checked = true;
    }
  } catch (error) {
    if (error instanceof PackedBundleError) throw new BundleError(`${where}: ${error.message}`);
    throw error;
  }
  let unpacked: ReturnType<typeof unpackBundle>;
  try {
    unpacked = unpackBundle(Buffer.concat(chunks));
  } catch (error) {
    if (error instanceof PackedBundleError) throw new BundleError(`${where}: ${error.message}`);
    throw error;
  }
  const manifest = parseManifestJson(unpacked.manifestText);
  const limit = modelSizeLimit(manifest);
  if (unpacked.modelBytes.length > limit) throw new ModelTooLargeError(`${where} (model ${manifest.model.file})`, unpacked.modelBytes.length, limit);
  checkSha256(manifest, unpacked.modelBytes, `${where} (model ${manifest.model.file})`);
  return { manifest, modelBytes: unpacked.modelBytes, ...(object.VersionId ? { modelObjectVersion: object.VersionId } : {}) };
}

function checkSha256(manifest: Manifest, modelBytes: Uint8Array, where: string): void {
  const actual = sha256Hex(modelBytes);
  if (actual !== manifest.model.sha256) {
    throw new BundleError(`${where}: sha256 is ${actual}, the manifest says ${manifest.model.sha256} (corrupt or replaced model file)`);
  }
}

/** A GetObject answer, its body not yet read. */
async function getObject(s3: S3Client, bucket: string, key: string): Promise<GetObjectCommandOutput> {
  try {
    return await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
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
