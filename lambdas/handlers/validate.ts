// The validation function: loads the candidate (and the live champion) with onnxruntime, measures it, and
// judges it with the promotion gates (lambdas/use-cases/validate-candidate.ts). Reads S3, the registry (who is
// live) and the prediction log (requests to replay); writes nothing.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { CandidateStore } from '../adapters/candidate-store';
import { DeploymentConfig } from '../adapters/deployment-config';
import { fetchBundle } from '../adapters/model-store';
import { recentRequests } from '../adapters/prediction-replay';
import { Registry } from '../adapters/registry';
import type { RoutedVersion } from '../core/pipeline/registry-types';
import { MANIFEST_FILE } from '../core/pipeline/candidate';
import { pipelineEnvironment } from '../contracts/pipeline-environment';
import type { CandidateRef, ValidationOutput } from '../contracts/pipeline-state';
import { validateCandidate, type BundleSource, type Champion } from '../use-cases/validate-candidate';

export interface ValidateRequest extends CandidateRef {
  readonly executionId: string;
}

let clients: { s3: S3Client; dynamodb: DynamoDBClient } | undefined;
let config: DeploymentConfig | undefined;

export const handler = async (request: ValidateRequest): Promise<ValidationOutput> => {
  const env = pipelineEnvironment(process.env, ['registryTable', 'predictionTable', 'predictionLogShards', 'replayLimit', 'bundleWaitSeconds', 'modelBucket']);
  clients ??= { s3: new S3Client({}), dynamodb: new DynamoDBClient({}) };
  config ??= new DeploymentConfig(clients.s3, env.modelBucket);
  const declaredRollout = (await config.declarations()).models[request.model]?.rollout;
  const store = new CandidateStore(clients.s3, request.bucket);
  const registry = new Registry(clients.dynamodb, env.registryTable);

  const routing = (await registry.getModel(request.model))?.routing;
  let champion: (Champion & { routed: RoutedVersion }) | undefined;
  if (routing) {
    const record = await registry.getVersion(request.model, routing.primary.version);
    const bundle = await fetchBundle(clients.s3, request.bucket, record?.lineage.modelPrefix ?? `models/${request.model}/${routing.primary.version}/`);
    champion = { manifest: bundle.manifest, modelBytes: bundle.modelBytes, routed: routing.primary };
  }
  const replay =
    champion && env.replayLimit > 0
      ? await recentRequests(clients.dynamodb, env.predictionTable, request.model, champion.routed.version, env.predictionLogShards, env.replayLimit)
      : [];

  // The manifest's arrival started the pipeline; a sync tool may still be uploading the files it names.
  const waitMs = env.bundleWaitSeconds * 1000;
  const source: BundleSource = {
    read: (file, options) => store.read(`${request.candidatePrefix}${file}`, { waitMs: file === MANIFEST_FILE ? 0 : waitMs, ...options }),
  };
  const result = await validateCandidate({
    model: request.model,
    version: request.version,
    candidate: source,
    ...(champion ? { champion } : {}),
    replay,
    ...(declaredRollout ? { declaredRollout } : {}),
  });
  // Always present (null for a first version): the state machine passes it on with a JSONPath.
  return { ...result, champion: champion?.routed ?? null };
};
