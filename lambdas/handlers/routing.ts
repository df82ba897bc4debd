// The routing function: the only code that writes the model functions' `live` alias after the first deploy.
// It plans a rollout (pure, core/pipeline/rollout.ts) and applies its steps, a rollback, or an operator's
// promote/rollback target with one UpdateAlias each.
import { LambdaClient } from '@aws-sdk/client-lambda';
import { LambdaControl } from '../adapters/lambda-control';
import { rollbackAlarmPrefix, versionAlarmInputs } from '../core/pipeline/alarms';
import { DEFAULT_ALARM_THRESHOLDS, type AlarmThresholds } from '../core/monitoring/alarms';
import type { ControlPlan } from '../core/pipeline/control';
import type { RoutedVersion } from '../core/pipeline/registry-types';
import { executableRollout, type ExecutableStep } from '../core/pipeline/rollout';
import type { RolloutSpec } from '../core/manifest';
import { functionFor, pipelineEnvironment } from '../contracts/pipeline-environment';
import type { PipelineState, PlannedRollout } from '../contracts/pipeline-state';

export type RoutingRequest =
  | {
      readonly action: 'plan';
      readonly model: string;
      readonly spec: RolloutSpec;
      readonly candidate: RoutedVersion;
      readonly champion?: RoutedVersion | null;
      /** The candidate manifest's alarm settings (ValidationResult.alarms), over the model's configured thresholds. */
      readonly alarms?: Partial<AlarmThresholds>;
    }
  | { readonly action: 'apply-step'; readonly model: string; readonly rollout: PlannedRollout; readonly stepIndex: number }
  | { readonly action: 'rollback'; readonly model: string; readonly rollout: PlannedRollout }
  | { readonly action: 'restore'; readonly state: PipelineState }
  | { readonly action: 'set'; readonly model: string; readonly control: ControlPlan };

export interface RoutingDependencies {
  readonly lambda: LambdaControl;
  /** The deployment's name (the base stack's): alarm names and the metrics namespace derive from it. */
  readonly deployment: string;
  readonly modelFunctions: Readonly<Record<string, string>>;
  readonly bakeCheckSeconds: number;
  /** Alarm thresholds per model (merged over the defaults) and the actions of the alarms created for published versions. */
  readonly alarmThresholds?: Readonly<Record<string, Partial<AlarmThresholds>>>;
  readonly alarmActions?: readonly string[];
}

export async function routingAction(deps: RoutingDependencies, request: RoutingRequest): Promise<unknown> {
  switch (request.action) {
    case 'plan': {
      const rollout = executableRollout(request.spec, request.candidate, request.champion ?? undefined, deps.bakeCheckSeconds);
      const thresholds = { ...DEFAULT_ALARM_THRESHOLDS, ...deps.alarmThresholds?.[request.model], ...request.alarms };
      return {
        ...rollout,
        alarmPrefix: rollbackAlarmPrefix(deps.deployment, request.model, request.candidate.version),
        alarms: versionAlarmInputs(deps.deployment, request.model, request.candidate.version, thresholds, deps.alarmActions ?? []),
      } satisfies PlannedRollout;
    }
    case 'apply-step': {
      const step = request.rollout.steps[request.stepIndex] as ExecutableStep | undefined;
      if (!step) throw new RangeError(`the rollout has ${request.rollout.steps.length} steps, got step index ${request.stepIndex}`);
      await deps.lambda.setRouting(functionFor(deps.modelFunctions, request.model), step.alias);
      return step;
    }
    case 'rollback': {
      if (request.rollout.rollback) await deps.lambda.setRouting(functionFor(deps.modelFunctions, request.model), request.rollout.rollback.alias);
      return { restored: request.rollout.rollback !== undefined };
    }
    case 'restore': {
      // Only after a step moved traffic: before that the alias still routes as it did.
      const { state } = request;
      const model = state.candidate?.model;
      if (!model || !state.step || !state.rollout?.rollback) return { restored: false };
      await deps.lambda.setRouting(functionFor(deps.modelFunctions, model), state.rollout.rollback.alias);
      return { restored: true };
    }
    case 'set':
      await deps.lambda.setRouting(functionFor(deps.modelFunctions, request.model), { version: request.control.target.lambdaVersion });
      return { version: request.control.target.lambdaVersion };
  }
}

let lambda: LambdaControl | undefined;

export const handler = async (request: RoutingRequest): Promise<unknown> => {
  const env = pipelineEnvironment(process.env, ['deployment', 'modelFunctions', 'bakeCheckSeconds', 'alarmThresholds', 'alarmActions']);
  lambda ??= new LambdaControl(new LambdaClient({}));
  return routingAction({ lambda, ...env }, request);
};
