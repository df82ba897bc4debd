// Where a candidate bundle is uploaded and what an upload event says about it. The promotion pipeline is
// started by the creation of `candidates/<model>/<version>/manifest.json`: the manifest is the last object a
// bundle upload writes (`modelgate push` uploads it last), so its arrival means the bundle is complete.
import { MODEL_NAME_PATTERN, MODEL_VERSION_PATTERN } from './identity';

export const CANDIDATES_PREFIX = 'candidates/';
export const MODELS_PREFIX = 'models/';
export const MANIFEST_FILE = 'manifest.json';

/** Upload metadata (`x-amz-meta-*` on manifest.json) that overrides the manifest for this upload only. */
export const UPLOAD_METADATA = {
  /** canary | linear | ab-test | shadow | all-at-once */
  strategy: 'modelgate-strategy',
  /** "true": accept breaking input-schema changes for this upload. */
  allowBreakingChanges: 'modelgate-allow-breaking-changes',
} as const;

export interface CandidateLocation {
  readonly bucket: string;
  readonly model: string;
  readonly version: string;
  /** `candidates/<model>/<version>/` */
  readonly candidatePrefix: string;
  /** `models/<model>/<version>/`: where an accepted bundle is copied and served from. */
  readonly modelPrefix: string;
}

/** The bundle prefixes of a model version. */
export function bundlePrefixes(model: string, version: string): { candidatePrefix: string; modelPrefix: string } {
  return { candidatePrefix: `${CANDIDATES_PREFIX}${model}/${version}/`, modelPrefix: `${MODELS_PREFIX}${model}/${version}/` };
}

/** A key that is not a candidate manifest: the message says what the pipeline expects. */
export class CandidateKeyError extends Error {
  override readonly name = 'CandidateKeyError';
}

/**
 * Reads `candidates/<model>/<version>/manifest.json` into its model and version. Names and versions follow
 * the manifest's rules (they become API paths, S3 prefixes and DynamoDB key parts).
 */
export function parseCandidateKey(bucket: string, key: string): CandidateLocation {
  const parts = key.split('/');
  if (parts.length !== 4 || `${parts[0]}/` !== CANDIDATES_PREFIX || parts[3] !== MANIFEST_FILE) {
    throw new CandidateKeyError(`expected an upload to ${CANDIDATES_PREFIX}<model>/<version>/${MANIFEST_FILE}, got: ${JSON.stringify(key)}`);
  }
  const [, model, version] = parts as [string, string, string, string];
  if (!MODEL_NAME_PATTERN.test(model) || model.length > 40) {
    throw new CandidateKeyError(`model name must be 1-40 lower-case letters, digits and single dashes, got: ${JSON.stringify(model)}`);
  }
  if (!MODEL_VERSION_PATTERN.test(version) || version.length > 40) {
    throw new CandidateKeyError(`model version must be 1-40 letters, digits, '.', '_' or '-', got: ${JSON.stringify(version)}`);
  }
  return { bucket, model, version, ...bundlePrefixes(model, version) };
}

/** The parts of an EventBridge "Object Created" event from S3 the pipeline reads. */
export interface ObjectCreatedEvent {
  readonly id?: string;
  readonly time?: string;
  readonly detail: {
    readonly bucket: { readonly name: string };
    readonly object: { readonly key: string; readonly size?: number; readonly etag?: string; readonly 'version-id'?: string };
  };
}
