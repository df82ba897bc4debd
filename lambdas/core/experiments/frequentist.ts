// Frequentist engines: the fixed-horizon Welch test (read once, at the planned sample size) and the
// always-valid confidence sequence (read at any time). Both follow GrowthBook's stats engine.
import { studentTCdf, studentTQuantile } from '../stats/distributions';
import { EXPERIMENT_DEFAULTS } from './defaults';
import { estimateEffect, welchDegreesOfFreedom, type LiftScale } from './effect';
import { armMoments, assertComparable, type ArmStats } from './sufficient-statistics';

export interface FrequentistOptions {
  /** @default 'relative' */
  readonly scale?: LiftScale;
  /** Two-sided significance level; the interval covers with probability 1 - alpha. @default 0.05 */
  readonly alpha?: number;
}

export interface SequentialOptions extends FrequentistOptions {
  /** N*: total units (both arms) at which the confidence sequence is tightest. @default 5000 */
  readonly tuning?: number;
}

export interface FrequentistResult {
  readonly engine: 'frequentist' | 'sequential';
  readonly scale: LiftScale;
  readonly lift: number;
  readonly ci: readonly [number, number];
  readonly pValue: number;
  readonly standardError: number;
}

/**
 * Welch's t-test on the lift, with Welch-Satterthwaite degrees of freedom. Given two proportions it is the
 * two-proportion test with unpooled variances p(1 - p) (GrowthBook's choice, and its known answers).
 */
export function fixedHorizonTest(control: ArmStats, treatment: ArmStats, { scale = 'relative', alpha = EXPERIMENT_DEFAULTS.alpha }: FrequentistOptions = {}): FrequentistResult {
  assertComparable(control, treatment);
  const c = armMoments(control);
  const t = armMoments(treatment);
  const { lift, variance } = estimateEffect(c, t, scale);
  const standardError = Math.sqrt(variance);
  const df = welchDegreesOfFreedom(c, t);
  const halfWidth = studentTQuantile(1 - alpha / 2, df) * standardError;
  return {
    engine: 'frequentist',
    scale,
    lift,
    ci: [lift - halfWidth, lift + halfWidth],
    // The lower tail keeps precision for tiny p-values, where 1 - cdf would round to 0.
    pValue: 2 * studentTCdf(-Math.abs(lift / standardError), df),
    standardError,
  };
}

/**
 * Asymptotic confidence sequence (Waudby-Smith et al., "Time-uniform central limit theory", eq. 9 with
 * the rho of eq. 161): valid at every sample size at once, so it may be read after every batch of traffic.
 * The p-value is the smallest alpha whose sequence excludes zero, for the rho tuned at `alpha`.
 */
export function sequentialTest(
  control: ArmStats,
  treatment: ArmStats,
  { scale = 'relative', alpha = EXPERIMENT_DEFAULTS.alpha, tuning = EXPERIMENT_DEFAULTS.sequentialTuning }: SequentialOptions = {},
): FrequentistResult {
  assertComparable(control, treatment);
  const { lift, variance } = estimateEffect(armMoments(control), armMoments(treatment), scale);
  const total = control.n + treatment.n;
  const rhoSquared = (-2 * Math.log(alpha) + Math.log(-2 * Math.log(alpha) + 1)) / tuning;
  const growth = total * rhoSquared + 1;
  // sigma^2 is the per-unit variance of the estimate: N times its variance at N units.
  const sigmaSquared = variance * total;
  const halfWidth = Math.sqrt((sigmaSquared * 2 * growth * Math.log(Math.sqrt(growth) / alpha)) / (total * total * rhoSquared));
  const zSquared = (lift * lift) / variance;
  const pValue = Math.min(1, Math.sqrt(growth) * Math.exp((-zSquared * total * rhoSquared) / (2 * growth)));
  return {
    engine: 'sequential',
    scale,
    lift,
    ci: [lift - halfWidth, lift + halfWidth],
    pValue,
    standardError: Math.sqrt(variance),
  };
}
