// The routing function: the only writer of the models' `live` alias (lambdas/use-cases/routing-actions.ts).
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { DeploymentConfig } from '../adapters/deployment-config';
import { LambdaControl } from '../adapters/lambda-control';
import { pipelineEnvironment } from '../contracts/pipeline-environment';
import { routingAction, type RoutingRequest } from '../use-cases/routing-actions';

let clients: { lambda: LambdaControl; config: DeploymentConfig } | undefined;

export const handler = async (request: RoutingRequest): Promise<unknown> => {
  const env = pipelineEnvironment(process.env, ['deployment', 'modelBucket', 'bakeCheckSeconds', 'alarmActions']);
  clients ??= { lambda: new LambdaControl(new LambdaClient({})), config: new DeploymentConfig(new S3Client({}), env.modelBucket) };
  const { lambda, config } = clients;
  return routingAction(
    {
      lambda,
      deployment: env.deployment,
      bakeCheckSeconds: env.bakeCheckSeconds,
      alarmActions: env.alarmActions,
      alarmThresholds: async (model) => (await config.declarations()).models[model]?.alarms,
    },
    request,
  );
};
