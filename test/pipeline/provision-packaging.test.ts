// The provision step passes a model's packaging to its stack, and refuses to switch it on an existing stack
// before CloudFormation is asked to (it would try to replace a function with a fixed name, and fail).
import { describe, expect, it } from 'vitest';
import type { DeploymentParameters } from '../../lambdas/contracts/model-stack';
import type { StackState } from '../../lambdas/core/pipeline/provisioning';
import { provisionModel, ProvisioningError, type ProvisionDependencies } from '../../lambdas/use-cases/provision-model';

const DEPLOYMENT = {
  Deployment: 'modelgate-dev',
  CodeBucket: 'code',
  CodeKey: 'inference.zip',
  ImageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/assets:abc',
} as DeploymentParameters;

/** CloudFormation as the provision step sees it: one stack per name, and the calls it was asked to make. */
function stacks(existing: Record<string, StackState> = {}) {
  const calls: { call: string; parameters?: Record<string, string> }[] = [];
  const store: ProvisionDependencies['stacks'] = {
    describe: async (name) => existing[name],
    template: async () => '{}',
    create: async (request) => void calls.push({ call: 'create', parameters: { ...request.parameters } }),
    update: async (request) => (calls.push({ call: 'update', parameters: { ...request.parameters } }), true),
    delete: async () => void calls.push({ call: 'delete' }),
    failureReason: async () => undefined,
  };
  return { store, calls };
}

const deps = (store: ProvisionDependencies['stacks'], models: Record<string, object>, deployment = DEPLOYMENT): ProvisionDependencies => ({
  stacks: store,
  template: async () => '{}',
  declarations: async () => ({ deployment: 'modelgate-dev', allowUndeclaredModels: true, models }),
  deployment,
  roleArn: 'arn:aws:iam::123456789012:role/cfn',
  settleMs: 0,
});

describe('provisioning a model declared with packaging: image', () => {
  it('creates its stack with PackageType Image and the deployment ImageUri; an undeclared model gets Zip', async () => {
    const { store, calls } = stacks();
    await provisionModel(deps(store, { fraud: { packaging: 'image' } }), { action: 'ensure', model: 'fraud' });
    await provisionModel(deps(store, { fraud: { packaging: 'image' } }), { action: 'ensure', model: 'churn' });
    expect(calls.map(({ call, parameters }) => [call, parameters?.ModelName, parameters?.PackageType, parameters?.ImageUri])).toEqual([
      ['create', 'fraud', 'Image', DEPLOYMENT.ImageUri],
      ['create', 'churn', 'Zip', DEPLOYMENT.ImageUri],
    ]);
  });

  it('refuses to switch the packaging of an existing stack, and starts no update', async () => {
    const { store, calls } = stacks({ 'modelgate-dev-model-fraud': { status: 'UPDATE_COMPLETE', parameters: { ...DEPLOYMENT, ModelName: 'fraud', PackageType: 'Zip' } } });
    const ensure = provisionModel(deps(store, { fraud: { packaging: 'image' } }), { action: 'ensure', model: 'fraud' });
    await expect(ensure).rejects.toThrow(ProvisioningError);
    await expect(ensure).rejects.toThrow('modelgate-dev-model-fraud: model "fraud" is served by a Zip function and its declaration now asks for packaging: image');
    expect(calls).toEqual([]);
  });

  it('is refused when the deployed base stack built no image (declarations newer than the deploy)', async () => {
    const { store, calls } = stacks();
    await expect(provisionModel(deps(store, { fraud: { packaging: 'image' } }, { ...DEPLOYMENT, ImageUri: '' }), { action: 'ensure', model: 'fraud' })).rejects.toThrow(
      'built no inference image: deploy it (cdk deploy)',
    );
    expect(calls).toEqual([]);
  });
});
