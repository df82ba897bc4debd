// The alias routing a rollout goes through, as plain data: the state machine walks the steps, the registry
// records them. A Lambda alias has one primary version and at most one additional version whose weight is
// in [0, 1): "all traffic to the candidate" is a switch of the primary version, never weight 1.
import type { RolloutSpec, RolloutStrategy } from '../manifest-types';
import { PROMOTION_DEFAULTS } from './defaults';

/** How the alias routes: the primary version, and the additional version with its weight in [0, 1). */
export interface AliasRouting {
  readonly version: string;
  readonly additionalVersion?: string;
  readonly additionalWeight?: number;
}

export interface RolloutStep {
  /** Share of live traffic the candidate answers, 0 to 1. */
  readonly candidateWeight: number;
  readonly routing: AliasRouting;
  /** How long to stay at this step before the next one (the last step stays). */
  readonly holdMinutes: number;
  /** Roll back when one of the candidate's version-scoped alarms fires during this step. */
  readonly watchAlarms: boolean;
}

/** Where a rollout ends: serving all traffic, a fixed experiment split, or shadowing the champion. */
export type FinalState = 'live' | 'experiment' | 'shadow';

export interface RolloutPlan {
  /** The strategy followed; all-at-once when there is no champion to share traffic with. */
  readonly strategy: RolloutStrategy;
  readonly candidate: string;
  readonly champion?: string;
  readonly steps: readonly RolloutStep[];
  readonly final: FinalState;
  /** Shadow: the share of requests mirrored to the candidate (its answers are logged, never returned). */
  readonly mirrorSampleRate?: number;
  /** The routing a rollback restores: all traffic to the champion (absent for the first version). */
  readonly rollback?: AliasRouting;
}

/** A rollout setting outside its range: the message names the setting and the value. */
export class RolloutPlanError extends Error {
  override readonly name = 'RolloutPlanError';
}

/**
 * Plans the routing steps that take `candidate` from no traffic to the strategy's final state:
 * - canary: weight w for bakeMinutes (alarms watched), then all traffic → live;
 * - linear: 1/n, 2/n, ... (n - 1)/n, each for intervalMinutes (alarms watched), then all traffic → live;
 * - ab-test: weight w, kept (alarms watched) until promote or rollback concludes the experiment → experiment;
 * - shadow: weight 0 with mirroring on, kept (alarms watched) → shadow;
 * - all-at-once: all traffic → live.
 * The first version of a model (no champion) has nothing to split with: it goes all at once.
 */
export function planRollout(spec: RolloutSpec, candidate: string, champion?: string): RolloutPlan {
  if (champion === candidate) throw new RolloutPlanError(`candidate and champion are the same version: ${candidate}`);
  const all: RolloutStep = { candidateWeight: 1, routing: { version: candidate }, holdMinutes: 0, watchAlarms: false };
  if (champion === undefined) return { strategy: 'all-at-once', candidate, steps: [all], final: 'live' };

  const split = (weight: number, holdMinutes: number): RolloutStep => ({
    candidateWeight: weight,
    routing: weight === 0 ? { version: champion } : { version: champion, additionalVersion: candidate, additionalWeight: weight },
    holdMinutes,
    watchAlarms: true,
  });
  const base = { strategy: spec.strategy, candidate, champion, rollback: { version: champion } };
  switch (spec.strategy) {
    case 'canary': {
      const weight = check('canary.weight', spec.canary?.weight ?? PROMOTION_DEFAULTS.canary.weight, 'a weight in (0, 1)', (w) => w > 0 && w < 1);
      const bake = minutes('canary.bakeMinutes', spec.canary?.bakeMinutes ?? PROMOTION_DEFAULTS.canary.bakeMinutes);
      return { ...base, steps: [split(weight, bake), all], final: 'live' };
    }
    case 'linear': {
      const stepCount = (n: number) => Number.isInteger(n) && n >= 1 && n <= 100;
      const steps = check('linear.steps', spec.linear?.steps ?? PROMOTION_DEFAULTS.linear.steps, 'an integer from 1 to 100', stepCount);
      const interval = minutes('linear.intervalMinutes', spec.linear?.intervalMinutes ?? PROMOTION_DEFAULTS.linear.intervalMinutes);
      const increments = Array.from({ length: steps - 1 }, (_, i) => split((i + 1) / steps, interval));
      return { ...base, steps: [...increments, all], final: 'live' };
    }
    case 'ab-test': {
      const weight = check('abTest.weight', spec.abTest?.weight ?? PROMOTION_DEFAULTS.abTest.weight, 'a weight in (0, 1)', (w) => w > 0 && w < 1);
      return { ...base, steps: [split(weight, 0)], final: 'experiment' };
    }
    case 'shadow': {
      const rate = check('shadow.sampleRate', spec.shadow?.sampleRate ?? PROMOTION_DEFAULTS.shadow.sampleRate, 'a share in (0, 1]', (r) => r > 0 && r <= 1);
      return { ...base, steps: [split(0, 0)], final: 'shadow', mirrorSampleRate: rate };
    }
    case 'all-at-once':
      return { ...base, steps: [all], final: 'live' };
  }
}

/**
 * The rollout a bundle asks for: the manifest's `rollout`, else the model's declared default, else canary; with
 * the strategy replaced when the upload chose another one (the settings for that strategy still apply).
 */
export function rolloutSpec(manifest: { readonly rollout?: RolloutSpec }, strategy?: RolloutStrategy, declared?: RolloutSpec): RolloutSpec {
  const spec = manifest.rollout ?? declared ?? { strategy: PROMOTION_DEFAULTS.strategy };
  return strategy === undefined ? spec : { ...spec, strategy };
}

function check(setting: string, value: number, expected: string, valid: (value: number) => boolean): number {
  if (!Number.isFinite(value) || !valid(value)) throw new RolloutPlanError(`rollout.${setting} must be ${expected}, got: ${value}`);
  return value;
}

function minutes(setting: string, value: number): number {
  return check(setting, value, 'a number of minutes >= 0', (m) => m >= 0);
}
