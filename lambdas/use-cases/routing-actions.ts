// What the routing function does: the only code that writes the model functions' `live` alias. It plans a
// rollout (pure, core/pipeline/rollout.ts) and applies its steps, a rollback, or an operator's promote/rollback
// target with one UpdateAlias each. The entry is lambdas/handlers/routing.ts.
import type { LambdaControl } from '../adapters/lambda-control';
import { rollbackAlarmNames, rolloutAlarmInputs } from '../core/pipeline/alarms';
import { DEFAULT_ALARM_THRESHOLDS, type AlarmThresholds } from '../core/monitoring/alarms';
import type { ControlPlan } from '../core/pipeline/control';
import type { RoutedVersion } from '../core/pipeline/registry-types';
import { executableRollout, type ExecutableStep } from '../core/pipeline/rollout';
import type { RolloutSpec } from '../core/manifest';
import { modelFunctionName } from '../core/naming';
import type { PipelineState, PlannedRollout } from '../contracts/pipeline-state';

export type RoutingRequest =
  | {
      readonly action: 'plan';
      readonly model: string;
      readonly spec: RolloutSpec;
      readonly candidate: RoutedVersion;
      readonly champion?: RoutedVersion | null;
      /** The candidate manifest's alarm settings (ValidationResult.alarms), over the model's declared thresholds. */
      readonly alarms?: Partial<AlarmThresholds>;
    }
  | { readonly action: 'apply-step'; readonly model: string; readonly rollout: PlannedRollout; readonly stepIndex: number }
  | { readonly action: 'rollback'; readonly model: string; readonly rollout: PlannedRollout }
  | { readonly action: 'restore'; readonly state: PipelineState }
  | { readonly action: 'set'; readonly model: string; readonly control: ControlPlan };

export interface RoutingDependencies {
  readonly lambda: LambdaControl;
  /** The deployment's name (the base stack's): function and alarm names and the metrics namespace derive from it. */
  readonly deployment: string;
  readonly bakeCheckSeconds: number;
  /** Alarm thresholds of a model's versions (its declaration's, merged over the defaults). */
  readonly alarmThresholds: (model: string) => Promise<Partial<AlarmThresholds> | undefined>;
  /** Actions of the alarms created for published versions (the on-call topic). */
  readonly alarmActions?: readonly string[];
}

export async function routingAction(deps: RoutingDependencies, request: RoutingRequest): Promise<unknown> {
  switch (request.action) {
    case 'plan': {
      const rollout = executableRollout(request.spec, request.candidate, request.champion ?? undefined, deps.bakeCheckSeconds);
      const thresholds = { ...DEFAULT_ALARM_THRESHOLDS, ...(await deps.alarmThresholds(request.model)), ...request.alarms };
      const { model, candidate } = request;
      const alarms = rolloutAlarmInputs(deps.deployment, model, candidate.version, thresholds, deps.alarmActions ?? []);
      return { ...rollout, alarms, rollbackAlarms: rollbackAlarmNames(alarms, deps.deployment, model, candidate.version) } satisfies PlannedRollout;
    }
    case 'apply-step': {
      const step = request.rollout.steps[request.stepIndex] as ExecutableStep | undefined;
      if (!step) throw new RangeError(`the rollout has ${request.rollout.steps.length} steps, got step index ${request.stepIndex}`);
      await deps.lambda.setRouting(modelFunctionName(deps.deployment, request.model), step.alias);
      return step;
    }
    case 'rollback': {
      if (request.rollout.rollback) await deps.lambda.setRouting(modelFunctionName(deps.deployment, request.model), request.rollout.rollback.alias);
      return { restored: request.rollout.rollback !== undefined };
    }
    case 'restore': {
      // Whenever a rollout was planned: a step may have moved the alias and then failed before reporting back
      // (no $.step), so the champion's routing is written again; a no-op when the alias never moved.
      const { state } = request;
      const model = state.candidate?.model;
      if (!model || !state.rollout?.rollback) return { restored: false };
      await deps.lambda.setRouting(modelFunctionName(deps.deployment, model), state.rollout.rollback.alias);
      return { restored: true };
    }
    case 'set':
      await deps.lambda.setRouting(modelFunctionName(deps.deployment, request.model), { version: request.control.target.lambdaVersion });
      return { version: request.control.target.lambdaVersion };
  }
}
