// A rollout as the state machine walks it: the plan of core/promotion/rollout-plan.ts (in Lambda versions,
// since the alias routes Lambda versions) turned into steps with the registry status they mean, the bake
// checks to make while holding, and the routing a rollback restores.
import type { RolloutSpec, RolloutStrategy } from '../manifest-types';
import { planRollout, type AliasRouting, type FinalState } from '../promotion/rollout-plan';
import type { ModelStatus } from '../promotion/status';
import type { RoutedVersion, RoutingState } from './registry-types';

/** Alarm checks during a bake happen this often unless the construct says otherwise. */
export const DEFAULT_BAKE_CHECK_SECONDS = 60;

export interface BakeSchedule {
  /** Checks left; each waits `checkSeconds` then looks at the candidate's alarms. 0: no bake. */
  readonly checks: number;
  readonly checkSeconds: number;
}

export interface ExecutableStep {
  readonly index: number;
  /** The last step: after it the rollout is finished (live, experiment or shadow). */
  readonly last: boolean;
  /** The alias routing of this step, in Lambda versions. */
  readonly alias: AliasRouting;
  /** The routing the registry records for it, in model and Lambda versions. */
  readonly routing: Omit<RoutingState, 'updatedAt' | 'executionId'>;
  readonly candidateWeight: number;
  /** The candidate's status while this step holds. */
  readonly status: ModelStatus;
  readonly bake: BakeSchedule;
}

export interface ExecutableRollout {
  readonly strategy: RolloutStrategy;
  readonly final: FinalState;
  readonly candidate: RoutedVersion;
  readonly champion?: RoutedVersion;
  readonly steps: readonly ExecutableStep[];
  /** All traffic back to the champion (absent for a first version, which has nothing to return to). */
  readonly rollback?: { readonly alias: AliasRouting; readonly routing: Omit<RoutingState, 'updatedAt' | 'executionId'> };
}

/**
 * Plans the rollout of `candidate` next to the live `champion` (absent for a model's first version).
 * `checkSeconds` is the alarm-check interval during bakes: a hold of H seconds becomes ceil(H / interval)
 * checks of equal length.
 */
export function executableRollout(
  spec: RolloutSpec,
  candidate: RoutedVersion,
  champion: RoutedVersion | undefined,
  checkSeconds: number = DEFAULT_BAKE_CHECK_SECONDS,
): ExecutableRollout {
  const plan = planRollout(spec, candidate.lambdaVersion, champion?.lambdaVersion);
  const byLambda = new Map<string, RoutedVersion>([[candidate.lambdaVersion, candidate]]);
  if (champion) byLambda.set(champion.lambdaVersion, champion);
  const routed = (lambdaVersion: string): RoutedVersion => byLambda.get(lambdaVersion) as RoutedVersion;
  const routingOf = (alias: AliasRouting): Omit<RoutingState, 'updatedAt' | 'executionId'> => ({
    primary: routed(alias.version),
    ...(alias.additionalVersion !== undefined && (alias.additionalWeight ?? 0) > 0
      ? { additional: { ...routed(alias.additionalVersion), weight: alias.additionalWeight as number } }
      : {}),
  });
  const steps = plan.steps.map((step, index): ExecutableStep => {
    const last = index === plan.steps.length - 1;
    const routing = routingOf(step.routing);
    const shadow = last && plan.final === 'shadow' ? { shadow: { ...candidate, sampleRate: plan.mirrorSampleRate ?? 1 } } : {};
    // A Lambda alias cannot give its additional version weight 0 any meaning: shadow keeps the champion alone.
    const alias: AliasRouting = routing.additional ? step.routing : { version: step.routing.version };
    const holdSeconds = Math.round(step.holdMinutes * 60);
    const bakes = !last && step.watchAlarms && holdSeconds > 0;
    const checks = bakes ? Math.max(1, Math.ceil(holdSeconds / checkSeconds)) : 0;
    return {
      index,
      last,
      alias,
      routing: { ...routing, ...shadow },
      candidateWeight: step.candidateWeight,
      status: statusOf(step.candidateWeight, last, plan.final),
      bake: { checks, checkSeconds: checks === 0 ? 0 : Math.max(1, Math.ceil(holdSeconds / checks)) },
    };
  });
  return {
    strategy: plan.strategy,
    final: plan.final,
    candidate,
    ...(champion ? { champion } : {}),
    steps,
    ...(plan.rollback && champion ? { rollback: { alias: plan.rollback, routing: { primary: champion } } } : {}),
  };
}

function statusOf(weight: number, last: boolean, final: FinalState): ModelStatus {
  if (last) return final;
  return weight >= 1 ? 'live' : 'canary';
}
