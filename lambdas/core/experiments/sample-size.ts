// Planning: how many units each arm needs so that a true effect of the minimum detectable effect (MDE) is
// detected with the given power by the two-sided fixed-horizon test at level alpha.
import type { Issue } from '../errors';
import { normalQuantile } from '../stats/distributions';
import { EXPERIMENT_DEFAULTS } from './defaults';
import { ExperimentDataError } from './sufficient-statistics';

/** The metric before the experiment: a conversion rate, or a mean with its per-unit standard deviation. */
export type Baseline = { readonly kind: 'proportion'; readonly rate: number } | { readonly kind: 'mean'; readonly mean: number; readonly standardDeviation: number };

/**
 * The smallest effect worth detecting. `relative`: a share of the baseline (0.2 = 20%, so 10% -> 12%).
 * `absolute`: in the metric's units (0.02 = two percentage points on a rate).
 */
export type MinimumDetectableEffect = { readonly relative: number } | { readonly absolute: number };

export interface SampleSizeOptions {
  /** @default 0.05 */
  readonly alpha?: number;
  /** @default 0.8 */
  readonly power?: number;
}

/**
 * Units per arm for equal arms. Proportions use the standard two-proportion formula (variance pooled under
 * the null, unpooled under the alternative, no continuity correction); means use 2 sigma^2 (z_a + z_b)^2 / d^2.
 */
export function requiredSampleSizePerArm(
  baseline: Baseline,
  mde: MinimumDetectableEffect,
  { alpha = EXPERIMENT_DEFAULTS.alpha, power = EXPERIMENT_DEFAULTS.power }: SampleSizeOptions = {},
): number {
  const reference = baseline.kind === 'proportion' ? baseline.rate : baseline.mean;
  const difference = 'absolute' in mde ? mde.absolute : mde.relative * reference;
  const issues = planIssues(baseline, difference, alpha, power);
  if (issues.length > 0) throw new ExperimentDataError(issues);
  const zAlpha = normalQuantile(1 - alpha / 2);
  const zPower = normalQuantile(power);
  if (baseline.kind === 'mean') {
    return Math.ceil((2 * baseline.standardDeviation ** 2 * (zAlpha + zPower) ** 2) / difference ** 2);
  }
  const p1 = baseline.rate;
  const p2 = p1 + difference;
  const pooled = (p1 + p2) / 2;
  const spread = zAlpha * Math.sqrt(2 * pooled * (1 - pooled)) + zPower * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2));
  return Math.ceil(spread ** 2 / difference ** 2);
}

function planIssues(baseline: Baseline, difference: number, alpha: number, power: number): Issue[] {
  const issues: Issue[] = [];
  if (!(alpha > 0 && alpha < 1)) issues.push({ field: 'alpha', reason: `must be between 0 and 1, got ${alpha}` });
  if (!(power > 0 && power < 1)) issues.push({ field: 'power', reason: `must be between 0 and 1, got ${power}` });
  if (!Number.isFinite(difference) || difference === 0) {
    issues.push({ field: 'mde', reason: `must give a non-zero effect on the baseline, got ${difference}` });
  }
  if (baseline.kind === 'proportion') {
    if (!(baseline.rate > 0 && baseline.rate < 1)) {
      issues.push({ field: 'baseline.rate', reason: `must be between 0 and 1, got ${baseline.rate}` });
    } else if (!(baseline.rate + difference > 0 && baseline.rate + difference < 1)) {
      const reason = `moves the rate out of (0, 1): ${baseline.rate} -> ${baseline.rate + difference}`;
      issues.push({ field: 'mde', reason });
    }
  } else if (!(baseline.standardDeviation > 0)) {
    issues.push({
      field: 'baseline.standardDeviation',
      reason: `must be greater than 0, got ${baseline.standardDeviation}`,
    });
  }
  return issues;
}
