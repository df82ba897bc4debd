// The registry function: every registry write of the promotion state machine (lambdas/use-cases/registry-actions.ts).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DeploymentConfig } from '../adapters/deployment-config';
import { Registry } from '../adapters/registry';
import { pipelineEnvironment } from '../contracts/pipeline-environment';
import { registryAction, type RegistryRequest } from '../use-cases/registry-actions';

let clients: { registry: Registry; config: DeploymentConfig } | undefined;

export const handler = async (request: RegistryRequest): Promise<unknown> => {
  const env = pipelineEnvironment(process.env, ['registryTable', 'lockTtlSeconds', 'deployment', 'modelBucket']);
  clients ??= { registry: new Registry(new DynamoDBClient({}), env.registryTable), config: new DeploymentConfig(new S3Client({}), env.modelBucket) };
  const { registry, config } = clients;
  return registryAction(registry, { lockTtlSeconds: env.lockTtlSeconds, deployment: env.deployment, declarations: () => config.declarations() }, request);
};
