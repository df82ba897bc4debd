// The provision function: creates, updates, un-serves and deletes a model's CloudFormation stack for the
// promotion state machine (lambdas/use-cases/provision-model.ts), with the base stack's CloudFormation role.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';
import { DeploymentConfig } from '../adapters/deployment-config';
import { ModelStacks } from '../adapters/model-stacks';
import { pipelineEnvironment } from '../contracts/pipeline-environment';
import { provisionModel, type ProvisionRequest } from '../use-cases/provision-model';

let clients: { stacks: ModelStacks; config: DeploymentConfig } | undefined;

export const handler = async (request: ProvisionRequest): Promise<unknown> => {
  const env = pipelineEnvironment(process.env, ['modelBucket', 'modelStackParameters', 'modelStackRoleArn']);
  clients ??= { stacks: new ModelStacks(new CloudFormationClient({})), config: new DeploymentConfig(new S3Client({}), env.modelBucket) };
  const { stacks, config } = clients;
  return provisionModel(
    { stacks, template: () => config.modelStackTemplate(), declarations: () => config.declarations(), deployment: env.modelStackParameters, roleArn: env.modelStackRoleArn },
    request,
  );
};
