// Drift per feature and for the dataset: which statistic each feature gets, its threshold, and the report,
// either from raw columns (offline: the CLI, and the reference for tests) or from the manifest baseline
// and window aggregates (online: the scheduled monitor). docs/drift.md explains the choices.
import { binIndex } from '../baseline';
import type { Baseline, DistributionBaseline, DriftMethod, FeatureSpec } from '../manifest-types';
import { chiSquaredQuantileAbove } from '../stats/distributions';
import { type FeatureAggregate, own, type WindowAggregate } from './aggregate';
import { chiSquaredHomogeneity, jensenShannonDistance, ksBinned, ksTwoSample, psi, wassersteinNormalised, wassersteinNormalisedBinned, type Histogram } from './statistics';

export type FeatureKind = 'numeric' | 'categorical';

/** Per-feature drift settings: the manifest's `features[i].drift`, or CLI flags. */
export interface DriftSettings {
  readonly method?: DriftMethod;
  readonly threshold?: number;
}

export interface DriftOptions {
  /** Settings per feature name; a feature without settings gets the default method and threshold. */
  readonly settings?: Readonly<Record<string, DriftSettings>>;
  /** Settings for the prediction distribution (online reports). */
  readonly prediction?: DriftSettings;
  /** Dataset drift when at least this share of the features drifted (default 0.5, as Evidently). */
  readonly driftShareThreshold?: number;
}

/** Counts of one side: values present and values missing. */
export interface SampleCounts {
  readonly values: number;
  readonly missing: number;
}

/**
 * A verdict, or none: below the method's minimum sample (`minimumCurrentValues`) the statistic is still
 * computed, but it says more about sampling noise than about drift, so there is no verdict and no alarm.
 */
export type DriftStatus = 'drift' | 'no-drift' | 'not-enough-data';

export interface FeatureDrift {
  readonly kind: FeatureKind;
  readonly method: DriftMethod;
  /** The method's statistic; null when a side has no values to compare. */
  readonly statistic: number | null;
  /** For ks and chisquare; null for the distances (psi, wasserstein, jensenshannon). */
  readonly pValue: number | null;
  readonly threshold: number;
  /** p-value methods: pValue <= threshold; distances: statistic >= threshold. False without a verdict. */
  readonly drifted: boolean;
  readonly status: DriftStatus;
  /**
   * The fewest current values (not missing) this method's verdict needs here (`minimumCurrentValues`);
   * null when the reference itself is too small for the method at this threshold.
   */
  readonly minimum: number | null;
  readonly reference: SampleCounts;
  readonly current: SampleCounts;
  /** Numeric: current values outside the reference range (offline [min, max]; online the baseline's edges). */
  readonly outOfRange?: number;
  /** Categorical: current values whose category the reference does not have, and the most frequent of them. */
  readonly unseenCategories?: number;
  readonly unseenExamples?: readonly string[];
}

export interface DriftReport {
  readonly features: Readonly<Record<string, FeatureDrift>>;
  /** Features with a verdict (enough data): the denominator of driftShare. */
  readonly assessed: number;
  /** Share of the assessed features that drifted (0 when none is assessed). */
  readonly driftShare: number;
  /** 'not-enough-data' when fewer than half of the features have a verdict. */
  readonly status: DriftStatus;
  /** status === 'drift'. */
  readonly datasetDrift: boolean;
  /** Drift of the model's output distribution (online, when the baseline has it); not part of driftShare. */
  readonly prediction?: FeatureDrift;
}

/** A column of raw values; null is missing. */
export type Column = { readonly kind: 'numeric'; readonly values: readonly (number | null)[] } | { readonly kind: 'categorical'; readonly values: readonly (string | null)[] };

/** A drift method or threshold that cannot apply to a feature. */
export class DriftConfigError extends Error {
  override readonly name = 'DriftConfigError';
}

/** Evidently's default thresholds: a significance level for the tests, a distance for the others. */
export const DEFAULT_THRESHOLDS: Readonly<Record<DriftMethod, number>> = {
  ks: 0.05,
  chisquare: 0.05,
  wasserstein: 0.1,
  jensenshannon: 0.1,
  psi: 0.1,
};

export const DEFAULT_DRIFT_SHARE = 0.5;

/** Up to this many reference values, tests (p-values); above, distances (tests flag tiny shifts on big samples). */
const SMALL_REFERENCE = 1000;
/** A numeric feature with at most this many distinct values is compared as categories. */
const FEW_VALUES = 5;
/** Offline, a numeric reference with more distinct values than this is binned (Evidently's rule for PSI / JS). */
const BIN_ABOVE_DISTINCT = 20;
const UNSEEN_EXAMPLES = 5;

const P_VALUE_METHODS: ReadonlySet<DriftMethod> = new Set(['ks', 'chisquare']);

/** No drift verdict on fewer current values than this, whatever the method (docs/drift.md, "Minimum samples"). */
export const MIN_DRIFT_VALUES = 30;
/** Chi-squared: current values per compared category, on average (Cochran's rule: expected counts of 5). */
const CHI_SQUARED_VALUES_PER_CATEGORY = 5;
/** A distance's minimum sample is where sampling noise alone reaches its threshold in at most this share of windows. */
const NOISE_FALSE_ALARMS = 0.05;
/**
 * The 95th percentile of sqrt(n) x W1 / std between n draws of a normal distribution and the distribution
 * itself (simulated, 2 000 draws at each n from 30 to 500: 2.10 to 2.21, no trend in n).
 */
const WASSERSTEIN_NOISE_QUANTILE = 2.15;

/**
 * The fewest current values (not missing) for a verdict of `method` against a reference of
 * `referenceValues` values in `referenceCategories` bins or categories (those with reference values),
 * at `threshold`; null when no current sample is enough (the reference itself is too small).
 * - ks: MIN_DRIFT_VALUES. The exact test holds its 5% false alarms at any size, but a handful of values
 *   can only show gross shifts, and one out-of-range value moves D by 1/n.
 * - chisquare: 5 per compared category (Cochran's rule for the chi-squared approximation), at least 30.
 * - psi, jensenshannon, wasserstein have no p-value: with n_eff = 1 / (1/current + 1/reference), sampling
 *   noise alone is PSI ~ chi2(k-1) / n_eff and JS^2 ~ chi2(k-1) / (8 n_eff) over k categories, and
 *   sqrt(n_eff) W1 / std has the 95th percentile WASSERSTEIN_NOISE_QUANTILE for a normal distribution. The
 *   minimum is the n at which that noise reaches the threshold in at most 5% of windows without drift
 *   (and at least 30).
 */
export function minimumCurrentValues(method: DriftMethod, referenceValues: number, referenceCategories: number, threshold: number): number | null {
  if (method === 'ks') return MIN_DRIFT_VALUES;
  if (method === 'chisquare') return Math.max(MIN_DRIFT_VALUES, CHI_SQUARED_VALUES_PER_CATEGORY * referenceCategories);
  let effective: number;
  if (method === 'wasserstein') effective = (WASSERSTEIN_NOISE_QUANTILE / threshold) ** 2;
  else {
    const noise = chiSquaredQuantileAbove(NOISE_FALSE_ALARMS, Math.max(1, referenceCategories - 1));
    effective = method === 'psi' ? noise / threshold : noise / (8 * threshold * threshold);
  }
  // n_eff >= effective  <=>  current >= effective x reference / (reference - effective)
  if (referenceValues <= effective) return null;
  return Math.max(MIN_DRIFT_VALUES, Math.ceil((effective * referenceValues) / (referenceValues - effective) - 1e-9));
}
const NUMERIC_ONLY_METHODS: ReadonlySet<DriftMethod> = new Set(['ks', 'wasserstein']);

/**
 * Evidently's selection: reference <= 1000 values: numeric with > 5 distinct values (reference and current
 * together) -> KS, otherwise chi-squared; more: numeric with > 5 distinct values -> Wasserstein
 * (normalised), otherwise Jensen-Shannon. Evidently takes a two-proportion z-test for two categories; our
 * chi-squared test of homogeneity is that same test there (z^2 = chi^2), so it needs no method of its own.
 */
export function defaultMethod(kind: FeatureKind, referenceValues: number, distinctValues: number): DriftMethod {
  const continuous = kind === 'numeric' && distinctValues > FEW_VALUES;
  if (referenceValues <= SMALL_REFERENCE) return continuous ? 'ks' : 'chisquare';
  return continuous ? 'wasserstein' : 'jensenshannon';
}

/** The drift settings a manifest declares, by feature name. */
export function driftSettings(features: readonly FeatureSpec[]): Record<string, DriftSettings> {
  return Object.fromEntries(features.filter((f) => f.drift !== undefined).map((f) => [f.name, f.drift as DriftSettings]));
}

/**
 * Drift of every reference column against the current column of the same name, on the raw values. KS and
 * Wasserstein use the samples; PSI, Jensen-Shannon and chi-squared use counts: per value for categorical
 * columns and numeric ones with <= 20 distinct reference values, else over Sturges bins spanning both
 * samples (Evidently's binning, so the numbers compare with its).
 */
export function driftReport(reference: Readonly<Record<string, Column>>, current: Readonly<Record<string, Column>>, options: DriftOptions = {}): DriftReport {
  const features = Object.entries(reference).map(([name, referenceColumn]): [string, FeatureDrift] => {
    const currentColumn = own(current, name);
    if (!currentColumn) throw new DriftConfigError(`feature "${name}": the current data has no such column`);
    if (currentColumn.kind !== referenceColumn.kind) {
      throw new DriftConfigError(`feature "${name}" is ${referenceColumn.kind} in the reference, ${currentColumn.kind} in the current data`);
    }
    const settings = own(options.settings, name) ?? {};
    return [
      name,
      referenceColumn.kind === 'numeric'
        ? numericColumnDrift(name, referenceColumn.values, currentColumn.values as readonly (number | null)[], settings)
        : categoricalColumnDrift(name, referenceColumn.values, currentColumn.values as readonly (string | null)[], settings),
    ];
  });
  return assemble(Object.fromEntries(features), options);
}

/**
 * Drift of each aggregated feature (and of the predictions) in a window against the manifest baseline.
 * Everything here is on counts: PSI, Jensen-Shannon and chi-squared over the baseline's bins (plus
 * under/overflow bins when either side has out-of-range values) or categories (plus the unseen ones), and
 * KS and Wasserstein from the histograms. Binned KS and Wasserstein approximate the statistics on the raw
 * values (see `ksBinned`, `wassersteinNormalisedBinned`): against a baseline, KS on bins can miss drift but
 * not invent it, and Wasserstein is off by less than the widest occupied bins' widths. Features the window
 * does not aggregate (e.g. redacted ones) are not reported.
 */
export function driftReportFromAggregates(baseline: Baseline, window: WindowAggregate, options: DriftOptions = {}): DriftReport {
  const features = Object.entries(window.features).map(([name, aggregate]): [string, FeatureDrift] => {
    const distribution = own(baseline.features, name);
    if (!distribution) throw new DriftConfigError(`feature "${name}": the baseline has no such feature`);
    return [name, aggregateDrift(name, distribution, aggregate, own(options.settings, name) ?? {})];
  });
  const prediction = baseline.prediction && window.prediction ? aggregateDrift('prediction', baseline.prediction, window.prediction, options.prediction ?? {}) : undefined;
  return assemble(Object.fromEntries(features), options, prediction);
}

/**
 * The dataset's verdict: drift when at least the threshold share of the assessed features drifted; no
 * verdict when fewer than half of the features have one (the share of a few would stand for all of them).
 */
function assemble(features: Record<string, FeatureDrift>, options: DriftOptions, prediction?: FeatureDrift): DriftReport {
  const results = Object.values(features);
  const assessed = results.filter((f) => f.status !== 'not-enough-data');
  const driftShare = assessed.length === 0 ? 0 : assessed.filter((f) => f.drifted).length / assessed.length;
  const status: DriftStatus =
    assessed.length === 0 || 2 * assessed.length < results.length ? 'not-enough-data' : driftShare >= (options.driftShareThreshold ?? DEFAULT_DRIFT_SHARE) ? 'drift' : 'no-drift';
  const report = { features, assessed: assessed.length, driftShare, status, datasetDrift: status === 'drift' };
  return prediction ? { ...report, prediction } : report;
}

function numericColumnDrift(name: string, referenceColumn: readonly (number | null)[], currentColumn: readonly (number | null)[], settings: DriftSettings): FeatureDrift {
  const reference = present(referenceColumn);
  const current = present(currentColumn);
  const distinct = new Set([...reference, ...current]).size;
  const method = chooseMethod(name, 'numeric', settings, reference.length, distinct);
  let result: { statistic: number; pValue: number | null };
  let referenceCategories = 0;
  if (method === 'ks') result = ksTwoSample(reference, current);
  else if (method === 'wasserstein') result = { statistic: wassersteinNormalised(reference, current), pValue: null };
  else {
    const [referenceCounts, currentCounts] = evidentlyBins(reference, current);
    result = countsStatistic(method, referenceCounts, currentCounts);
    referenceCategories = occupied(referenceCounts);
  }
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (const value of reference) {
    low = Math.min(low, value);
    high = Math.max(high, value);
  }
  return {
    ...verdict('numeric', method, result, settings, { current: current.length, reference: reference.length, referenceCategories }),
    reference: { values: reference.length, missing: referenceColumn.length - reference.length },
    current: { values: current.length, missing: currentColumn.length - current.length },
    outOfRange: reference.length === 0 ? 0 : current.filter((value) => value < low || value > high).length,
  };
}

function categoricalColumnDrift(name: string, referenceColumn: readonly (string | null)[], currentColumn: readonly (string | null)[], settings: DriftSettings): FeatureDrift {
  const referenceCounts = countValues(referenceColumn);
  const currentCounts = countValues(currentColumn);
  const categories = [...new Set([...referenceCounts.keys(), ...currentCounts.keys()])];
  const referenceValues = sum([...referenceCounts.values()]);
  const currentValues = sum([...currentCounts.values()]);
  const method = chooseMethod(name, 'categorical', settings, referenceValues, categories.length);
  const result = countsStatistic(
    method,
    categories.map((category) => referenceCounts.get(category) ?? 0),
    categories.map((category) => currentCounts.get(category) ?? 0),
  );
  const unseen = [...currentCounts].filter(([category]) => !referenceCounts.has(category));
  const sample = { current: currentValues, reference: referenceValues, referenceCategories: referenceCounts.size };
  return {
    ...verdict('categorical', method, result, settings, sample),
    reference: { values: referenceValues, missing: referenceColumn.length - referenceValues },
    current: { values: currentValues, missing: currentColumn.length - currentValues },
    ...unseenSummary(unseen),
  };
}

function aggregateDrift(name: string, baseline: DistributionBaseline, aggregate: FeatureAggregate, settings: DriftSettings): FeatureDrift {
  if (baseline.kind === 'numeric' && aggregate.kind === 'numeric') {
    const reference: Histogram = baseline;
    const current: Histogram = { ...aggregate, edges: baseline.edges };
    if (aggregate.counts.length !== baseline.counts.length) {
      throw new DriftConfigError(`feature "${name}": the aggregate has ${aggregate.counts.length} bins, the baseline ${baseline.counts.length}`);
    }
    const referenceCounts = [baseline.underflow, ...baseline.counts, baseline.overflow];
    const currentCounts = [aggregate.underflow, ...aggregate.counts, aggregate.overflow];
    const referenceValues = sum(referenceCounts);
    const occupiedBins = referenceCounts.filter((count, i) => count + (currentCounts[i] as number) > 0).length;
    const method = chooseMethod(name, 'numeric', settings, referenceValues, occupiedBins);
    let result: { statistic: number; pValue: number | null };
    if (method === 'ks') result = ksBinned(reference, current);
    else if (method === 'wasserstein') result = { statistic: wassersteinNormalisedBinned(reference, current, baseline.std), pValue: null };
    else {
      // Under/overflow bins take part only when they hold something: an empty pair would only add the
      // PSI fill values' noise.
      const keep = (i: number) => (i > 0 && i < referenceCounts.length - 1) || referenceCounts[i]! + currentCounts[i]! > 0;
      const indices = referenceCounts.map((_, i) => i).filter(keep);
      result = countsStatistic(
        method,
        indices.map((i) => referenceCounts[i]!),
        indices.map((i) => currentCounts[i]!),
      );
    }
    const sample = { current: sum(currentCounts), reference: referenceValues, referenceCategories: occupied(referenceCounts) };
    return {
      ...verdict('numeric', method, result, settings, sample),
      reference: { values: referenceValues, missing: baseline.missing },
      current: { values: sample.current, missing: aggregate.missing },
      outOfRange: aggregate.underflow + aggregate.overflow,
    };
  }
  if (baseline.kind === 'categorical' && aggregate.kind === 'categorical') {
    const categories = Object.keys(baseline.counts);
    const unseen = Object.entries(aggregate.unseen);
    const referenceCounts = [...categories.map((category) => baseline.counts[category] as number), ...unseen.map(() => 0)];
    const currentCounts = [...categories.map((category) => own(aggregate.counts, category) ?? 0), ...unseen.map(([, count]) => count)];
    if (aggregate.otherUnseen > 0) {
      referenceCounts.push(0);
      currentCounts.push(aggregate.otherUnseen);
    }
    const referenceValues = sum(referenceCounts);
    const occupiedCategories = referenceCounts.filter((count, i) => count + (currentCounts[i] as number) > 0).length;
    const method = chooseMethod(name, 'categorical', settings, referenceValues, occupiedCategories);
    const summary = unseenSummary(unseen);
    const sample = { current: sum(currentCounts), reference: referenceValues, referenceCategories: occupied(referenceCounts) };
    return {
      ...verdict('categorical', method, countsStatistic(method, referenceCounts, currentCounts), settings, sample),
      reference: { values: referenceValues, missing: baseline.missing },
      current: { values: sample.current, missing: aggregate.missing },
      unseenCategories: summary.unseenCategories + aggregate.otherUnseen,
      unseenExamples: summary.unseenExamples,
    };
  }
  throw new DriftConfigError(`feature "${name}": a ${aggregate.kind} aggregate cannot be compared with a ${baseline.kind} baseline`);
}

function chooseMethod(name: string, kind: FeatureKind, settings: DriftSettings, referenceValues: number, distinctValues: number): DriftMethod {
  const method = settings.method ?? defaultMethod(kind, referenceValues, distinctValues);
  if (kind === 'categorical' && NUMERIC_ONLY_METHODS.has(method)) {
    throw new DriftConfigError(`feature "${name}": ${method} needs numeric values, the feature is categorical`);
  }
  const threshold = settings.threshold;
  if (threshold !== undefined) {
    const isPValue = P_VALUE_METHODS.has(method);
    if (!Number.isFinite(threshold) || threshold <= 0 || (isPValue && threshold >= 1)) {
      const range = isPValue ? 'a significance level in (0, 1)' : 'a distance > 0';
      throw new DriftConfigError(`feature "${name}": the ${method} threshold must be ${range}, got: ${threshold}`);
    }
  }
  return method;
}

function verdict(
  kind: FeatureKind,
  method: DriftMethod,
  result: { statistic: number; pValue: number | null },
  settings: DriftSettings,
  sample: { readonly current: number; readonly reference: number; readonly referenceCategories: number },
): Pick<FeatureDrift, 'kind' | 'method' | 'statistic' | 'pValue' | 'threshold' | 'drifted' | 'status' | 'minimum'> {
  const threshold = settings.threshold ?? DEFAULT_THRESHOLDS[method];
  const statistic = Number.isNaN(result.statistic) ? null : result.statistic;
  const pValue = result.pValue === null || Number.isNaN(result.pValue) ? null : result.pValue;
  const minimum = minimumCurrentValues(method, sample.reference, sample.referenceCategories, threshold);
  if (minimum === null || sample.current < minimum) {
    return { kind, method, statistic, pValue, threshold, drifted: false, status: 'not-enough-data', minimum };
  }
  const drifted = P_VALUE_METHODS.has(method) ? pValue !== null && pValue <= threshold : statistic !== null && statistic >= threshold;
  return { kind, method, statistic, pValue, threshold, drifted, status: drifted ? 'drift' : 'no-drift', minimum };
}

/** Bins or categories that hold values. */
function occupied(counts: readonly number[]): number {
  return counts.filter((count) => count > 0).length;
}

/** PSI, Jensen-Shannon or chi-squared (homogeneity: see docs/drift.md) on aligned counts. */
function countsStatistic(method: DriftMethod, referenceCounts: readonly number[], currentCounts: readonly number[]): { statistic: number; pValue: number | null } {
  switch (method) {
    case 'psi':
      return { statistic: psi(referenceCounts, currentCounts), pValue: null };
    case 'jensenshannon':
      return { statistic: jensenShannonDistance(referenceCounts, currentCounts), pValue: null };
    case 'chisquare':
      return chiSquaredHomogeneity(referenceCounts, currentCounts);
    default:
      throw new RangeError(`${method} is not computed on counts`);
  }
}

/**
 * Evidently's `get_binned_data`: a reference with more than 20 distinct values is cut into Sturges bins
 * (numpy.histogram_bin_edges(..., "sturges")) over the range of both samples together; otherwise each
 * distinct value is its own category.
 */
function evidentlyBins(reference: readonly number[], current: readonly number[]): [number[], number[]] {
  if (new Set(reference).size > BIN_ABOVE_DISTINCT) {
    const all = [...reference, ...current];
    let low = Number.POSITIVE_INFINITY;
    let high = Number.NEGATIVE_INFINITY;
    for (const value of all) {
      low = Math.min(low, value);
      high = Math.max(high, value);
    }
    // numpy's arithmetic, kept as it is so the bin count matches: width = range / (log2 n + 1).
    const width = (high - low) / (Math.log2(all.length) + 1);
    const bins = Math.ceil((high - low) / width);
    const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? high : low + (i * (high - low)) / bins));
    const histogram = (values: readonly number[]) => {
      const counts = new Array<number>(bins).fill(0);
      for (const value of values) counts[binIndex(edges, value)]!++;
      return counts;
    };
    return [histogram(reference), histogram(current)];
  }
  const values = [...new Set([...reference, ...current])];
  const referenceCounts = countValues(reference);
  const currentCounts = countValues(current);
  return [values.map((v) => referenceCounts.get(v) ?? 0), values.map((v) => currentCounts.get(v) ?? 0)];
}

function unseenSummary(unseen: readonly (readonly [string, number])[]): { unseenCategories: number; unseenExamples: string[] } {
  const examples = [...unseen]
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, UNSEEN_EXAMPLES)
    .map(([category]) => category);
  return { unseenCategories: sum(unseen.map(([, count]) => count)), unseenExamples: examples };
}

function present<T>(values: readonly (T | null)[]): T[] {
  return values.filter((value): value is T => value !== null);
}

function countValues<T>(values: readonly (T | null)[]): Map<T, number> {
  const counts = new Map<T, number>();
  for (const value of values) if (value !== null) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, x) => total + x, 0);
}
