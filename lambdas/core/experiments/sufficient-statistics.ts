// Per-arm sufficient statistics: three running sums per arm are all the analysis needs, so the cost of
// reading an experiment does not grow with its traffic.
import type { Issue } from '../errors';
import { describeJsonKey, describeJsonValue } from '../json-body';

/** A mean metric (revenue, latency, score): units, sum of the metric, sum of its squares. */
export interface MeanMetricStats {
  readonly n: number;
  readonly sum: number;
  readonly sumSquares: number;
}

/** A conversion metric: units and how many of them converted. */
export interface ProportionMetricStats {
  readonly n: number;
  readonly conversions: number;
}

export type ArmStats = MeanMetricStats | ProportionMetricStats;

/** What every test reads from an arm: its size, the metric's mean and the per-unit variance. */
export interface ArmMoments {
  readonly n: number;
  readonly mean: number;
  readonly variance: number;
}

/** Statistics that no test can use (a negative count, more conversions than units, ...). */
export class ExperimentDataError extends Error {
  override readonly name = 'ExperimentDataError';
  constructor(readonly issues: readonly Issue[]) {
    super(issues.map((i) => `${i.field}: ${i.reason}`).join('; '));
  }
}

export function isProportion(stats: ArmStats): stats is ProportionMetricStats {
  return 'conversions' in stats;
}

/**
 * Mean and variance of one arm. A proportion uses the Bernoulli variance p(1 - p) and a mean metric the
 * sample variance (divisor n - 1), as GrowthBook does: its known answers for proportions reproduce only so.
 */
export function armMoments(stats: ArmStats): ArmMoments {
  if (isProportion(stats)) {
    const rate = stats.conversions / stats.n;
    return { n: stats.n, mean: rate, variance: rate * (1 - rate) };
  }
  const mean = stats.sum / stats.n;
  // Rounding can leave a constant metric's sum of squared deviations a hair below zero.
  const squaredDeviations = Math.max(stats.sumSquares - stats.sum * mean, 0);
  return { n: stats.n, mean, variance: squaredDeviations / (stats.n - 1) };
}

/** Every problem with one arm's statistics; empty when the arm can be analysed. */
export function armIssues(stats: ArmStats): Issue[] {
  const issues: Issue[] = [];
  const validN = Number.isInteger(stats.n) && stats.n >= 2;
  if (!validN) issues.push({ field: 'n', reason: `must be a whole number of units >= 2, got ${stats.n}` });
  if (isProportion(stats)) {
    if (!Number.isInteger(stats.conversions) || stats.conversions < 0) {
      issues.push({ field: 'conversions', reason: `must be a whole number >= 0, got ${stats.conversions}` });
    } else if (validN && stats.conversions > stats.n) {
      issues.push({ field: 'conversions', reason: `must not exceed n (${stats.n}), got ${stats.conversions}` });
    }
    return issues;
  }
  if (!Number.isFinite(stats.sum)) issues.push({ field: 'sum', reason: `must be a finite number, got ${stats.sum}` });
  if (!Number.isFinite(stats.sumSquares) || stats.sumSquares < 0) {
    issues.push({ field: 'sumSquares', reason: `must be a finite number >= 0, got ${stats.sumSquares}` });
  } else if (issues.length === 0) {
    // Cauchy-Schwarz: sum^2 <= n * sumSquares for any real data; allow for rounding in the inputs.
    const minimum = (stats.sum * stats.sum) / stats.n;
    if (stats.sumSquares < minimum * (1 - 1e-9)) {
      issues.push({
        field: 'sumSquares',
        reason: `must be at least sum^2 / n (${minimum}) for real data, got ${stats.sumSquares}`,
      });
    }
  }
  return issues;
}

/**
 * Reads one arm from untrusted data (a parsed JSON body or CLI flag): either `{n, sum, sumSquares}` or
 * `{n, conversions}`. Throws ExperimentDataError naming every bad field.
 */
export function toArmStats(value: unknown): ArmStats {
  const record = value as Record<string, unknown>;
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
  // Own keys only: an untrusted object must not answer from Object.prototype.
  const has = (field: string) => isObject && Object.hasOwn(record, field);
  if (!has('sum') && !has('conversions')) {
    const shapes = '{n, sum, sumSquares} (mean metric) or {n, conversions} (proportion)';
    throw new ExperimentDataError([{ field: 'arm', reason: `must be ${shapes}, got ${describeJsonValue(value)}` }]);
  }
  const fields = has('conversions') ? ['n', 'conversions'] : ['n', 'sum', 'sumSquares'];
  const issues: Issue[] = [];
  for (const field of fields) {
    if (!has(field)) issues.push({ field, reason: 'is missing' });
    else if (typeof record[field] !== 'number') {
      issues.push({ field, reason: `must be a number, got ${describeJsonValue(record[field])}` });
    }
  }
  for (const field of Object.keys(record)) {
    if (!fields.includes(field)) issues.push({ field: describeJsonKey(field), reason: `is not a field of ${describeShape(fields)}` });
  }
  if (issues.length > 0) throw new ExperimentDataError(issues);
  const stats = Object.fromEntries(fields.map((f) => [f, record[f]])) as unknown as ArmStats;
  const valueIssues = armIssues(stats);
  if (valueIssues.length > 0) throw new ExperimentDataError(valueIssues);
  return stats;
}

/** Checks a control/treatment pair: each arm valid, and both the same kind of metric. */
export function assertComparable(control: ArmStats, treatment: ArmStats): void {
  const issues = [...armIssues(control).map((i) => ({ ...i, field: `control.${i.field}` })), ...armIssues(treatment).map((i) => ({ ...i, field: `treatment.${i.field}` }))];
  if (isProportion(control) !== isProportion(treatment)) {
    issues.push({ field: 'treatment', reason: 'must be the same kind of metric (mean or proportion) as control' });
  }
  if (issues.length > 0) throw new ExperimentDataError(issues);
}

function describeShape(fields: readonly string[]): string {
  return `{${fields.join(', ')}}`;
}
