// The publish function: copies an accepted bundle to models/<model>/<version>/ — the S3 object versions the
// validation read, whatever was uploaded over them since —, adds the packed copy the inference function reads
// at cold start (core/packed-bundle.ts), and publishes a Lambda version of the model's function whose
// environment names that bundle (model version = Lambda version).
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { CandidateStore } from '../adapters/candidate-store';
import { parseManifestJson } from '../core/manifest';
import { PACKED_BUNDLE_FILE, packBundle } from '../core/packed-bundle';
import { MANIFEST_FILE } from '../core/pipeline/candidate';
import { LambdaControl } from '../adapters/lambda-control';
import { INFERENCE_VARIABLES } from '../contracts/environment';
import { pipelineEnvironment } from '../contracts/pipeline-environment';
import { modelFunctionName } from '../core/naming';
import type { CandidateRef, Published } from '../contracts/pipeline-state';

export interface PublishRequest extends CandidateRef {
  readonly executionId: string;
  /** The bundle's files, manifest last (from the validation). */
  readonly files: readonly string[];
  /** The object version of each file the validation read (from the validation): the versions published. */
  readonly objectVersions: Readonly<Record<string, string>>;
  /** The memory the model's stack gave its function, and why (the provision step's choice), recorded with the version. */
  readonly memory?: { readonly memoryMb?: number; readonly memoryReason?: string } | null;
}

/** A file the validation read no object version of: publishing its current object would publish unvalidated bytes. */
export class UnvalidatedVersionError extends Error {
  override readonly name = 'UnvalidatedVersionError';
}

let clients: { s3: S3Client; lambda: LambdaControl } | undefined;

export const handler = async (request: PublishRequest): Promise<Published> => {
  const env = pipelineEnvironment(process.env, ['deployment']);
  clients ??= { s3: new S3Client({}), lambda: new LambdaControl(new LambdaClient({})) };
  const functionName = modelFunctionName(env.deployment, request.model);
  const store = new CandidateStore(clients.s3, request.bucket);
  const validated = request.files.map((file) => {
    const versionId = request.objectVersions[file];
    // Copying the current object instead would publish what nobody validated: refuse.
    if (!versionId)
      throw new UnvalidatedVersionError(
        `validation recorded no S3 object version of ${request.candidatePrefix}${file}: only validated versions are published (is the model bucket versioned?)`,
      );
    return { file, versionId };
  });
  const objectVersions = await store.copy(request.candidatePrefix, request.modelPrefix, validated);
  const versionOf = (file: string) => ({ versionId: request.objectVersions[file] as string });
  const manifest = await store.require(`${request.candidatePrefix}${MANIFEST_FILE}`, versionOf(MANIFEST_FILE));
  const manifestText = new TextDecoder().decode(manifest.bytes);
  const modelFile = parseManifestJson(manifestText).model.file;
  const model = await store.require(`${request.candidatePrefix}${modelFile}`, versionOf(modelFile));
  objectVersions[PACKED_BUNDLE_FILE] = await store.write(`${request.modelPrefix}${PACKED_BUNDLE_FILE}`, packBundle(manifestText, model.bytes));
  const published = await clients.lambda.publishModelVersion(
    functionName,
    { [INFERENCE_VARIABLES.prefix]: request.modelPrefix, [INFERENCE_VARIABLES.modelVersion]: request.version, [INFERENCE_VARIABLES.packedFile]: PACKED_BUNDLE_FILE },
    `modelgate ${request.model} v${request.version} (${request.executionId.split(':').pop()})`,
  );
  return {
    lambdaVersion: published.version,
    functionName,
    modelPrefix: request.modelPrefix,
    objectVersions,
    ...(request.memory?.memoryMb ? { memoryMb: request.memory.memoryMb, ...(request.memory.memoryReason ? { memoryReason: request.memory.memoryReason } : {}) } : {}),
  };
};
