// One feature's drift as a person looks at it (the dashboard's monitoring section, `modelgate drift --html`):
// the verdict with what it rests on, and the reference and current distributions bin by bin. Built from a
// served version's merged windows against its baseline, or from two files' columns.
import { categoricalBaseline, numericBaseline } from '../baseline';
import type { Baseline, DistributionBaseline } from '../manifest-types';
import { addValue, emptyAggregate, type FeatureAggregate, type WindowAggregate } from './aggregate';
import { compareDistributions, type DistributionComparison } from './distribution';
import type { Column, DriftReport, DriftStatus, FeatureDrift } from './report';

/** One feature's (or the prediction's) drift, with what it rests on and what it looks like. */
export interface FeatureView {
  readonly name: string;
  readonly kind: FeatureDrift['kind'];
  readonly method: FeatureDrift['method'];
  readonly statistic: number | null;
  readonly pValue: number | null;
  readonly threshold: number;
  readonly status: DriftStatus;
  /** Current values (not missing), and the fewest the method's verdict needs (null: the reference is too small). */
  readonly values: number;
  readonly minimum: number | null;
  readonly missing: number;
  readonly outOfRange?: number;
  readonly unseenCategories?: number;
  readonly distribution: DistributionComparison;
}

/** The features (drifted first: `byConcern`) and the prediction of a drift report, each beside its distributions. */
export interface DriftViews {
  readonly features: readonly FeatureView[];
  readonly prediction: FeatureView | null;
}

/** A served version's views: its report over merged windows (`mergeMonitoringWindows(...).drift`) against the baseline. */
export function windowDriftViews(report: DriftReport | null | undefined, baseline: Baseline | undefined, merged: WindowAggregate | null): DriftViews {
  const features = Object.entries(report?.features ?? {})
    .map(([name, drift]) => featureView(name, drift, baseline?.features[name], merged?.features[name]))
    .filter((view): view is FeatureView => view !== null)
    .sort(byConcern);
  const prediction = report?.prediction ? featureView('prediction', report.prediction, baseline?.prediction, merged?.prediction) : null;
  return { features, prediction };
}

/**
 * Two files' views: each column's distribution over bins made from the reference column as a baseline is
 * made from training data (numeric: its quantile edges; categorical: its categories).
 */
export function columnDriftViews(report: DriftReport, reference: Readonly<Record<string, Column>>, current: Readonly<Record<string, Column>>): DriftViews {
  const features = Object.entries(report.features)
    .map(([name, drift]) => {
      const baseline = columnBaseline(reference[name] as Column);
      if (!baseline) return { ...viewOf(name, drift), distribution: { kind: drift.kind, bins: [], referenceValues: 0, currentValues: drift.current.values } };
      const aggregate = emptyAggregate(baseline);
      for (const value of (current[name] as Column).values) addValue(aggregate, baseline, value);
      return featureView(name, drift, baseline, aggregate) as FeatureView;
    })
    .sort(byConcern);
  return { features, prediction: null };
}

function columnBaseline(column: Column): DistributionBaseline | undefined {
  if (column.kind === 'categorical') return categoricalBaseline(column.values);
  return column.values.some((value) => value !== null) ? numericBaseline(column.values) : undefined;
}

function featureView(name: string, drift: FeatureDrift, baseline: DistributionBaseline | undefined, aggregate: FeatureAggregate | undefined): FeatureView | null {
  if (!baseline || !aggregate) return null;
  return { ...viewOf(name, drift), distribution: compareDistributions(baseline, aggregate) };
}

function viewOf(name: string, drift: FeatureDrift): Omit<FeatureView, 'distribution'> {
  return {
    name,
    kind: drift.kind,
    method: drift.method,
    statistic: drift.statistic,
    pValue: drift.pValue,
    threshold: drift.threshold,
    status: drift.status,
    values: drift.current.values,
    minimum: drift.minimum,
    missing: drift.current.missing,
    ...(drift.outOfRange !== undefined ? { outOfRange: drift.outOfRange } : {}),
    ...(drift.unseenCategories !== undefined ? { unseenCategories: drift.unseenCategories } : {}),
  };
}

/** How far past its threshold a feature is: a distance over its threshold, a p-value's threshold over it. */
function excess(view: FeatureView): number {
  if (view.statistic === null) return 0;
  if (view.pValue !== null) return view.threshold / Math.max(view.pValue, 1e-300);
  return view.statistic / view.threshold;
}

/** Drifted first (furthest past its threshold first), then the others, then those without enough data. */
function byConcern(a: FeatureView, b: FeatureView): number {
  const rank = (view: FeatureView) => (view.status === 'drift' ? 0 : view.status === 'no-drift' ? 1 : 2);
  return rank(a) - rank(b) || excess(b) - excess(a) || a.name.localeCompare(b.name);
}
