// A bundle's manifest and model in one object, written by the pipeline when it publishes a version
// (`models/<model>/<version>/bundle.packed`), so the inference function's cold start reads S3 once
// instead of twice. The manifest and model files stay next to it, unchanged, for people and tools.
//
// Layout: the line `modelgate-packed-bundle/1`, a line with the manifest's length in bytes, the manifest
// (UTF-8 JSON), then the model file's bytes. The model's sha256 is still checked against the manifest.

export const PACKED_BUNDLE_FILE = 'bundle.packed';

const MAGIC = 'modelgate-packed-bundle/1\n';
const MAX_HEADER_BYTES = MAGIC.length + 16;

/** The object is not a packed bundle, or is cut short; the message says which. */
export class PackedBundleError extends Error {
  override readonly name = 'PackedBundleError';
}

export function packBundle(manifestText: string, modelBytes: Uint8Array): Uint8Array {
  const manifest = new TextEncoder().encode(manifestText);
  const header = new TextEncoder().encode(`${MAGIC}${manifest.length}\n`);
  const packed = new Uint8Array(header.length + manifest.length + modelBytes.length);
  packed.set(header, 0);
  packed.set(manifest, header.length);
  packed.set(modelBytes, header.length + manifest.length);
  return packed;
}

/**
 * Where the manifest of a packed bundle ends (the model's bytes start), read from its first bytes; undefined
 * while too few have arrived to say. Lets a reader check the model's size before downloading it.
 */
export function packedManifestEnd(head: Uint8Array): number | undefined {
  const text = new TextDecoder().decode(head.subarray(0, Math.min(head.length, MAX_HEADER_BYTES)));
  if (text.length < MAGIC.length) return undefined;
  if (!text.startsWith(MAGIC)) throw new PackedBundleError(`not a packed bundle (it does not start with "${MAGIC.trim()}")`);
  const end = text.indexOf('\n', MAGIC.length);
  if (end === -1) {
    if (head.length >= MAX_HEADER_BYTES) throw new PackedBundleError('the manifest length line is missing or not a number');
    return undefined;
  }
  const lengthText = text.slice(MAGIC.length, end);
  if (!/^\d{1,12}$/.test(lengthText)) throw new PackedBundleError('the manifest length line is missing or not a number');
  return end + 1 + Number(lengthText);
}

export function unpackBundle(packed: Uint8Array): { manifestText: string; modelBytes: Uint8Array } {
  const head = new TextDecoder().decode(packed.subarray(0, Math.min(packed.length, MAX_HEADER_BYTES)));
  if (!head.startsWith(MAGIC)) throw new PackedBundleError(`not a packed bundle (it does not start with "${MAGIC.trim()}")`);
  const end = head.indexOf('\n', MAGIC.length);
  const lengthText = end === -1 ? '' : head.slice(MAGIC.length, end);
  if (!/^\d{1,12}$/.test(lengthText)) throw new PackedBundleError('the manifest length line is missing or not a number');
  const start = MAGIC.length + lengthText.length + 1;
  const manifestEnd = start + Number(lengthText);
  if (manifestEnd > packed.length) {
    throw new PackedBundleError(`cut short: the manifest is ${lengthText} bytes, only ${packed.length - start} follow the header`);
  }
  return { manifestText: new TextDecoder().decode(packed.subarray(start, manifestEnd)), modelBytes: packed.subarray(manifestEnd) };
}
