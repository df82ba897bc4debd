// The difference between treatment and control and the variance of that estimate, shared by every engine.
import { ExperimentDataError, type ArmMoments } from './sufficient-statistics';

/**
 * `relative`: (treatment mean - control mean) / control mean, variance by the delta method.
 * `absolute`: treatment mean - control mean.
 */
export type LiftScale = 'relative' | 'absolute';

export interface EffectEstimate {
  readonly lift: number;
  /** Variance of the lift estimate (the squared standard error). */
  readonly variance: number;
}

export function estimateEffect(control: ArmMoments, treatment: ArmMoments, scale: LiftScale): EffectEstimate {
  if (scale === 'relative' && control.mean === 0) {
    throw new ExperimentDataError([{ field: 'control', reason: 'a relative lift needs a non-zero control mean; use the absolute scale' }]);
  }
  const effect = scale === 'absolute' ? absoluteEffect(control, treatment) : relativeEffect(control, treatment);
  if (!(effect.variance > 0)) {
    throw new ExperimentDataError([{ field: 'control, treatment', reason: 'the metric does not vary in either arm, so no test is defined' }]);
  }
  return effect;
}

function absoluteEffect(control: ArmMoments, treatment: ArmMoments): EffectEstimate {
  return {
    lift: treatment.mean - control.mean,
    variance: treatment.variance / treatment.n + control.variance / control.n,
  };
}

function relativeEffect(control: ArmMoments, treatment: ArmMoments): EffectEstimate {
  // Delta method for the ratio of two independent means, Var(mean_t / mean_c).
  const c = control.mean;
  return {
    lift: (treatment.mean - c) / c,
    variance: treatment.variance / (c * c * treatment.n) + (control.variance * treatment.mean * treatment.mean) / (c ** 4 * control.n),
  };
}

/** Welch-Satterthwaite degrees of freedom for two arms with unequal variances. */
export function welchDegreesOfFreedom(control: ArmMoments, treatment: ArmMoments): number {
  const c = control.variance / control.n;
  const t = treatment.variance / treatment.n;
  return (c + t) ** 2 / ((c * c) / (control.n - 1) + (t * t) / (treatment.n - 1));
}
