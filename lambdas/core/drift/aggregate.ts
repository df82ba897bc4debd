// Per-window aggregates of logged values against the manifest baseline: fixed-size, JSON-serialisable
// (stored in DynamoDB as they are) and mergeable, so a day is the merge of its hours and the scheduled
// drift monitor reads a handful of aggregates however much traffic the model served.
import { binIndex } from '../baseline';
import type { Baseline, CategoricalBaseline, DistributionBaseline, FeatureValue, NumericBaseline } from '../manifest-types';

/**
 * Counts over the baseline's frozen bin edges, plus sufficient sums. `count` is every value added, missing
 * ones included, as in the baseline (so counts + underflow + overflow + missing = count); `sum`,
 * `sumSquares`, `min` and `max` are over the values that are not missing (min / max null when none).
 */
export interface NumericAggregate {
  readonly kind: 'numeric';
  counts: number[];
  underflow: number;
  overflow: number;
  missing: number;
  count: number;
  sum: number;
  sumSquares: number;
  min: number | null;
  max: number | null;
}

/**
 * Counts per category. `counts` has every baseline category (0 when absent from the window); `unseen`
 * counts categories the baseline does not have, at most MAX_UNSEEN_CATEGORIES of them, and
 * `otherUnseen` the values of unseen categories beyond those (so the total of unseen values is exact).
 */
export interface CategoricalAggregate {
  readonly kind: 'categorical';
  counts: Record<string, number>;
  unseen: Record<string, number>;
  otherUnseen: number;
  missing: number;
  count: number;
}

export type FeatureAggregate = NumericAggregate | CategoricalAggregate;

/** The aggregates of one time window (and model version): one per monitored feature, and the predictions. */
export interface WindowAggregate {
  features: Record<string, FeatureAggregate>;
  prediction?: FeatureAggregate;
}

/**
 * Unseen categories kept by name. The kept ones are the lexicographically smallest keys, not the most
 * frequent: a rule that depends only on the keys keeps `merge` associative and commutative (the result is
 * the same whatever order the windows are merged in), which a top-k by count is not.
 */
export const MAX_UNSEEN_CATEGORIES = 50;

/** An aggregate with nothing counted yet, shaped by the baseline (its bins or its categories). */
export function emptyAggregate(baseline: DistributionBaseline): FeatureAggregate {
  if (baseline.kind === 'numeric') {
    return {
      kind: 'numeric',
      counts: baseline.counts.map(() => 0),
      underflow: 0,
      overflow: 0,
      missing: 0,
      count: 0,
      sum: 0,
      sumSquares: 0,
      min: null,
      max: null,
    };
  }
  return {
    kind: 'categorical',
    counts: Object.fromEntries(Object.keys(baseline.counts).map((category) => [category, 0])),
    unseen: {},
    otherUnseen: 0,
    missing: 0,
    count: 0,
  };
}

/**
 * Counts one value (`times` times: a tally of a category's values is counted at once) into `aggregate` (which
 * it changes in place, as a builder, and returns). `null`, `undefined` and NaN are missing; a numeric feature
 * takes only numbers and they must be finite (request validation rejects anything else, so anything else here
 * is a bug upstream).
 */
export function addValue(aggregate: FeatureAggregate, baseline: DistributionBaseline, value: FeatureValue | null | undefined, times = 1): FeatureAggregate {
  if (aggregate.kind !== baseline.kind) throw new TypeError(`a ${aggregate.kind} aggregate needs a ${aggregate.kind} baseline`);
  aggregate.count += times;
  if (value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value))) {
    aggregate.missing += times;
  } else if (aggregate.kind === 'numeric') {
    addNumber(aggregate, baseline as NumericBaseline, value, times);
  } else {
    addCategory(aggregate, baseline as CategoricalBaseline, String(value), times);
  }
  return aggregate;
}

/** The aggregate of two windows' values (a new object; the arguments are not changed). */
export function merge(a: FeatureAggregate, b: FeatureAggregate): FeatureAggregate {
  if (a.kind === 'numeric' && b.kind === 'numeric') {
    if (a.counts.length !== b.counts.length) {
      throw new RangeError(`cannot merge aggregates over different bins (${a.counts.length} and ${b.counts.length})`);
    }
    return {
      kind: 'numeric',
      counts: a.counts.map((count, i) => count + (b.counts[i] as number)),
      underflow: a.underflow + b.underflow,
      overflow: a.overflow + b.overflow,
      missing: a.missing + b.missing,
      count: a.count + b.count,
      sum: a.sum + b.sum,
      sumSquares: a.sumSquares + b.sumSquares,
      min: extreme(a.min, b.min, Math.min),
      max: extreme(a.max, b.max, Math.max),
    };
  }
  if (a.kind === 'categorical' && b.kind === 'categorical') {
    const aKeys = Object.keys(a.counts);
    if (aKeys.length !== Object.keys(b.counts).length || aKeys.some((key) => !Object.hasOwn(b.counts, key))) {
      throw new RangeError('cannot merge aggregates over different baseline categories');
    }
    const merged: CategoricalAggregate = {
      kind: 'categorical',
      counts: Object.fromEntries(aKeys.map((key) => [key, (a.counts[key] as number) + (b.counts[key] as number)])),
      unseen: { ...a.unseen },
      otherUnseen: a.otherUnseen + b.otherUnseen,
      missing: a.missing + b.missing,
      count: a.count + b.count,
    };
    for (const [key, count] of Object.entries(b.unseen)) increment(merged.unseen, key, count);
    capUnseen(merged);
    return merged;
  }
  throw new TypeError(`cannot merge a ${a.kind} aggregate with a ${b.kind} one`);
}

/** A window with an empty aggregate per baseline feature (or per named feature) and for the predictions. */
export function emptyWindowAggregate(baseline: Baseline, features: readonly string[] = Object.keys(baseline.features)): WindowAggregate {
  const window: WindowAggregate = {
    features: Object.fromEntries(features.map((name) => [name, emptyAggregate(featureBaseline(baseline, name))])),
  };
  if (baseline.prediction) window.prediction = emptyAggregate(baseline.prediction);
  return window;
}

/**
 * Counts one logged prediction into `window` (in place): the value of each feature the window aggregates
 * (absent ones count as missing), and the prediction when the window has a prediction aggregate.
 */
export function addRow(
  window: WindowAggregate,
  baseline: Baseline,
  features: Readonly<Record<string, FeatureValue | null | undefined>>,
  prediction?: FeatureValue | null,
): WindowAggregate {
  for (const [name, aggregate] of Object.entries(window.features)) {
    addValue(aggregate, featureBaseline(baseline, name), own(features, name));
  }
  if (window.prediction && baseline.prediction) addValue(window.prediction, baseline.prediction, prediction);
  return window;
}

/** Two windows merged feature by feature (a feature only one of them has is taken as it is). */
export function mergeWindows(a: WindowAggregate, b: WindowAggregate): WindowAggregate {
  const names = [...new Set([...Object.keys(a.features), ...Object.keys(b.features)])];
  const merged: WindowAggregate = {
    features: Object.fromEntries(
      names.map((name) => {
        const left = own(a.features, name);
        const right = own(b.features, name);
        return [name, left && right ? merge(left, right) : structuredClone((left ?? right) as FeatureAggregate)];
      }),
    ),
  };
  if (a.prediction && b.prediction) merged.prediction = merge(a.prediction, b.prediction);
  else if (a.prediction ?? b.prediction) merged.prediction = structuredClone((a.prediction ?? b.prediction) as FeatureAggregate);
  return merged;
}

function featureBaseline(baseline: Baseline, name: string): DistributionBaseline {
  const distribution = own(baseline.features, name);
  if (!distribution) throw new RangeError(`the baseline has no feature "${name}"`);
  return distribution;
}

function addNumber(aggregate: NumericAggregate, baseline: NumericBaseline, value: FeatureValue, times: number): void {
  if (typeof value !== 'number') throw new TypeError(`a numeric feature takes numbers, got ${JSON.stringify(value)}`);
  if (!Number.isFinite(value)) throw new RangeError(`a numeric feature takes finite numbers, got ${value}`);
  if (aggregate.counts.length !== baseline.counts.length) {
    throw new RangeError(`the aggregate has ${aggregate.counts.length} bins, the baseline ${baseline.counts.length}`);
  }
  const bin = binIndex(baseline.edges, value);
  if (bin === -1) aggregate.underflow += times;
  else if (bin === aggregate.counts.length) aggregate.overflow += times;
  else aggregate.counts[bin]! += times;
  aggregate.sum += value * times;
  aggregate.sumSquares += value * value * times;
  aggregate.min = extreme(aggregate.min, value, Math.min);
  aggregate.max = extreme(aggregate.max, value, Math.max);
}

function addCategory(aggregate: CategoricalAggregate, baseline: CategoricalBaseline, category: string, times: number): void {
  if (Object.hasOwn(baseline.counts, category)) {
    increment(aggregate.counts, category, times);
    return;
  }
  increment(aggregate.unseen, category, times);
  capUnseen(aggregate);
}

/** Keeps the MAX_UNSEEN_CATEGORIES smallest unseen keys; the others' counts move to `otherUnseen`. */
function capUnseen(aggregate: CategoricalAggregate): void {
  const keys = Object.keys(aggregate.unseen);
  if (keys.length <= MAX_UNSEEN_CATEGORIES) return;
  keys.sort();
  const kept: Record<string, number> = {};
  keys.forEach((key, i) => {
    const count = aggregate.unseen[key] as number;
    if (i < MAX_UNSEEN_CATEGORIES) increment(kept, key, count);
    else aggregate.otherUnseen += count;
  });
  aggregate.unseen = kept;
}

/**
 * Adds to a count keyed by a category taken from traffic: own properties only, and defined rather than
 * assigned, so that categories such as "constructor" or "__proto__" are counted like any other.
 */
function increment(record: Record<string, number>, key: string, by: number): void {
  // An own data property, even one named "__proto__", is written by plain assignment; only a new key needs
  // defineProperty (assignment would set the prototype). Batch scoring counts every value of every row here.
  if (Object.hasOwn(record, key)) record[key] = (record[key] as number) + by;
  else Object.defineProperty(record, key, { value: by, enumerable: true, writable: true, configurable: true });
}

/** A record's own entry: feature names and categories come from traffic, and may be "constructor". */
export function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

function extreme(a: number | null, b: number | null, pick: (x: number, y: number) => number): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return pick(a, b);
}
