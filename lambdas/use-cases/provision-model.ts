// A model's serving stack: created on the model's first accepted version, updated when its settings or the
// published template change, its routes withdrawn and the stack deleted when the model retires. The pipeline
// calls these under the model's lock and polls `progress` between them (lib/pipeline/state-machine).
import type { ModelStacks } from '../adapters/model-stacks';
import type { DeploymentParameters, ModelStackParameters } from '../contracts/model-stack';
import type { DeploymentDeclarations } from '../core/pipeline/declarations';
import { modelStackName } from '../core/naming';
import { packageType, packageTypeSwitch, provisionOperation, rightSizeMemory, stackProgress, type MemoryEvidence } from '../core/pipeline/provisioning';

/** The model's stack could not be brought to the wanted state; the message is CloudFormation's reason. */
export class ProvisioningError extends Error {
  override readonly name = 'ProvisioningError';
}

export type ProvisionRequest =
  /** Bring the stack to the model's settings (validation's evidence sizes the memory unless the declaration fixes it). */
  | { readonly action: 'ensure'; readonly model: string; readonly memory?: MemoryEvidence | null }
  /** Is the operation `ensure`/`unserve`/`delete` started over? Throws ProvisioningError when it failed. */
  | { readonly action: 'progress'; readonly model: string; readonly expect: 'create' | 'update' | 'delete' }
  /** Retire, step 1: the same stack without routes (Serving=false). */
  | { readonly action: 'unserve'; readonly model: string }
  /** Retire, step 2: delete the stack (its log group is retained). */
  | { readonly action: 'delete'; readonly model: string };

export interface Provisioned {
  readonly stackName: string;
  /** An operation was started: poll `progress` with `expect` until it is done. */
  readonly pending: boolean;
  readonly expect?: 'create' | 'update' | 'delete';
  /** After this operation, `ensure` must run again (a failed first creation was deleted first). */
  readonly again: boolean;
  readonly memoryMb?: number;
  readonly memoryReason?: string;
}

export interface ProvisionDependencies {
  readonly stacks: Pick<ModelStacks, 'describe' | 'template' | 'create' | 'update' | 'delete' | 'failureReason'>;
  /** The published model-stack template (templates/model-stack.json). */
  readonly template: () => Promise<string>;
  readonly declarations: () => Promise<DeploymentDeclarations>;
  readonly deployment: DeploymentParameters;
  /** The CloudFormation service role for model stacks. */
  readonly roleArn: string;
  /**
   * How long an operation it starts is watched before the state machine takes over polling: a quick one (an
   * update that changes nothing CloudFormation must wait for) ends within the task.
   *
   * @default 10000
   */
  readonly settleMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Used when nothing sizes the memory (a stack created without validation evidence). */
const DEFAULT_MEMORY_MB = 1024;

export async function provisionModel(deps: ProvisionDependencies, request: ProvisionRequest): Promise<Provisioned | { readonly done: boolean }> {
  const stackName = modelStackName(deps.deployment.Deployment, request.model);
  switch (request.action) {
    case 'ensure':
      return settle(deps, request.model, await ensureStack(deps, stackName, request.model, request.memory ?? undefined));
    case 'progress': {
      const state = await deps.stacks.describe(stackName);
      const progress = stackProgress(state, request.expect);
      if (!progress.done) return { done: false };
      if (progress.ok) return { done: true };
      const reason = (await deps.stacks.failureReason(stackName)) ?? state?.reason;
      throw new ProvisioningError(`${stackName}: ${stackProgressReason(state?.status, reason)}`);
    }
    case 'unserve': {
      const current = await deps.stacks.describe(stackName);
      if (!current) return { stackName, pending: false, again: false };
      const started = await deps.stacks.update({
        stackName,
        templateBody: await deps.template(),
        parameters: { ...current.parameters, ...deps.deployment, ModelName: request.model, Serving: 'false' },
        roleArn: deps.roleArn,
        tags: { 'modelgate:deployment': deps.deployment.Deployment, 'modelgate:model': request.model },
      });
      return settle(deps, request.model, { stackName, pending: started, ...(started ? { expect: 'update' as const } : {}), again: false });
    }
    case 'delete': {
      const current = await deps.stacks.describe(stackName);
      if (!current) return { stackName, pending: false, again: false };
      await deps.stacks.delete(stackName, deps.roleArn);
      return settle(deps, request.model, { stackName, pending: true, expect: 'delete', again: false });
    }
  }
}

/** Watches an operation just started for a while; done within that time, nothing is left pending. */
async function settle(deps: ProvisionDependencies, model: string, provisioned: Provisioned): Promise<Provisioned> {
  if (!provisioned.pending || !provisioned.expect || provisioned.again) return provisioned;
  const sleep = deps.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  const deadline = Date.now() + (deps.settleMs ?? 10_000);
  for (let wait = 250; Date.now() < deadline; wait = Math.min(wait * 2, 2000)) {
    await sleep(wait);
    const progress = await provisionModel(deps, { action: 'progress', model, expect: provisioned.expect });
    if ((progress as { done: boolean }).done) return { ...provisioned, pending: false };
  }
  return provisioned;
}

async function ensureStack(deps: ProvisionDependencies, stackName: string, model: string, memory: MemoryEvidence | undefined): Promise<Provisioned> {
  const [current, declarations, template] = await Promise.all([deps.stacks.describe(stackName), deps.declarations(), deps.template()]);
  const declared = declarations.models[model];
  const sized =
    declared?.memorySize !== undefined
      ? { memoryMb: declared.memorySize, reason: `${declared.memorySize} MB, fixed by the model's declaration` }
      : memory
        ? rightSizeMemory(memory)
        : current?.parameters.MemorySize
          ? { memoryMb: Number(current.parameters.MemorySize), reason: `${current.parameters.MemorySize} MB, kept (no new measurement)` }
          : { memoryMb: DEFAULT_MEMORY_MB, reason: `${DEFAULT_MEMORY_MB} MB, the default (nothing measured)` };
  const parameters: ModelStackParameters = {
    ...deps.deployment,
    ModelName: model,
    Serving: 'true',
    MemorySize: String(sized.memoryMb),
    ReservedConcurrency: declared?.reservedConcurrency === undefined ? '' : String(declared.reservedConcurrency),
    PackageType: packageType(declared),
  };
  if (parameters.PackageType === 'Image' && deps.deployment.ImageUri === '') {
    throw new ProvisioningError(`${stackName}: model "${model}" is declared with packaging: image, but the deployed base stack built no inference image: deploy it (cdk deploy)`);
  }
  const deployed = current ? await deps.stacks.template(stackName) : undefined;
  const operation = provisionOperation(current, parameters, deployed !== undefined && !sameTemplate(deployed, template));
  const switched = operation === 'update' && current ? packageTypeSwitch(model, current, parameters.PackageType) : undefined;
  if (switched) throw new ProvisioningError(`${stackName}: ${switched}`);
  const stackRequest = {
    stackName,
    templateBody: template,
    parameters,
    roleArn: deps.roleArn,
    tags: { 'modelgate:deployment': deps.deployment.Deployment, 'modelgate:model': model },
  };
  const chosen = { memoryMb: sized.memoryMb, memoryReason: sized.reason };
  switch (operation) {
    case 'create':
      await deps.stacks.create(stackRequest);
      return { stackName, pending: true, expect: 'create', again: false, ...chosen };
    case 'update': {
      const started = await deps.stacks.update(stackRequest);
      return { stackName, pending: started, ...(started ? { expect: 'update' as const } : {}), again: false, ...chosen };
    }
    case 'recreate':
      await deps.stacks.delete(stackName, deps.roleArn);
      return { stackName, pending: true, expect: 'delete', again: true, ...chosen };
    case 'wait':
      // Someone else's operation is running: wait for it to end whatever it was, then decide again.
      return {
        stackName,
        pending: true,
        expect: current?.status.startsWith('DELETE') ? 'delete' : current?.status.startsWith('CREATE') ? 'create' : 'update',
        again: true,
        ...chosen,
      };
    case 'none':
      return { stackName, pending: false, again: false, ...chosen };
  }
}

function stackProgressReason(status: string | undefined, reason: string | undefined): string {
  return `${status ?? 'gone'}${reason ? `: ${reason}` : ''}`;
}

/** Templates compared as JSON (CloudFormation may return the body re-serialized). */
function sameTemplate(a: string, b: string): boolean {
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return a === b;
  }
}
