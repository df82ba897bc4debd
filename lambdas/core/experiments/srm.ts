// Sample ratio mismatch: units per arm against the configured traffic weights. A mismatch means the
// assignment or the logging is broken, and no metric read from the experiment can be trusted.
import type { Issue } from '../errors';
import { chiSquaredSurvival } from '../stats/distributions';
import { EXPERIMENT_DEFAULTS } from './defaults';
import { ExperimentDataError } from './sufficient-statistics';

export interface SampleRatioCheck {
  readonly observed: readonly number[];
  readonly expected: readonly number[];
  readonly chiSquared: number;
  readonly degreesOfFreedom: number;
  readonly pValue: number;
  /** The p-value the check flags below. */
  readonly threshold: number;
  readonly mismatch: boolean;
}

/** Weights may be off by this much from summing to 1 (they are often typed as decimals). */
const WEIGHT_SUM_TOLERANCE = 1e-6;

/** Chi-squared goodness of fit of the units per arm against the weights; flags p < threshold. */
export function checkSampleRatio(observed: readonly number[], weights: readonly number[], threshold: number = EXPERIMENT_DEFAULTS.srmThreshold): SampleRatioCheck {
  const issues = sampleRatioIssues(observed, weights);
  if (issues.length > 0) throw new ExperimentDataError(issues);
  const total = observed.reduce((a, b) => a + b, 0);
  const expected = weights.map((w) => w * total);
  const chiSquared = observed.reduce((acc, o, i) => acc + (o - expected[i]!) ** 2 / expected[i]!, 0);
  const degreesOfFreedom = observed.length - 1;
  const pValue = chiSquaredSurvival(chiSquared, degreesOfFreedom);
  return { observed, expected, chiSquared, degreesOfFreedom, pValue, threshold, mismatch: pValue < threshold };
}

function sampleRatioIssues(observed: readonly number[], weights: readonly number[]): Issue[] {
  const issues: Issue[] = [];
  if (observed.length < 2) issues.push({ field: 'counts', reason: `need at least 2 arms, got ${observed.length}` });
  if (weights.length !== observed.length) {
    issues.push({ field: 'weights', reason: `need one weight per arm (${observed.length}), got ${weights.length}` });
  }
  const badCount = observed.find((o) => !Number.isInteger(o) || o < 0);
  if (badCount !== undefined) issues.push({ field: 'counts', reason: `must be whole numbers >= 0, got ${badCount}` });
  else if (observed.length > 0 && observed.every((o) => o === 0)) {
    issues.push({ field: 'counts', reason: 'need at least one unit' });
  }
  const badWeight = weights.find((w) => !(w > 0 && w < 1));
  if (badWeight !== undefined) issues.push({ field: 'weights', reason: `must be between 0 and 1, got ${badWeight}` });
  const sum = weights.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > WEIGHT_SUM_TOLERANCE) issues.push({ field: 'weights', reason: `must sum to 1, got ${sum}` });
  return issues;
}
