import type { CategoricalBaseline, DistributionBaseline, FeatureSpec, FeatureValue, NumericBaseline } from './manifest-types';

/** Bins per numeric baseline before equal quantiles are merged. */
export const DEFAULT_BINS = 10;

/**
 * The training distribution of one feature: categorical for string and boolean features and for
 * features with declared categories (every declared category gets a count, 0 when unseen), numeric
 * otherwise. `null`, `undefined` and NaN are missing.
 */
export function featureBaseline(feature: FeatureSpec, values: readonly (FeatureValue | null | undefined)[]): DistributionBaseline {
  if (feature.type === 'string' || feature.type === 'boolean' || feature.categories !== undefined) {
    return categoricalBaseline(values, feature.categories);
  }
  return numericBaseline(
    values.map((value, row) => {
      if (value === null || value === undefined || typeof value === 'number') return value;
      throw new TypeError(`feature "${feature.name}" is ${feature.type}, got ${JSON.stringify(value)} at row ${row}`);
    }),
  );
}

/**
 * A histogram of numeric values with `bins` bins whose edges are the quantiles i/bins (linear
 * interpolation, numpy's default), merged where equal, so edges[0] = min and edges[k] = max. A constant
 * column gets the single bin [v, v + ε]. `count` is every row, missing ones included, so
 * counts + underflow + overflow + missing = count. `std` is the population standard deviation (ddof 0,
 * as numpy.std and sklearn's StandardScaler).
 */
export function numericBaseline(values: readonly (number | null | undefined)[], bins = DEFAULT_BINS): NumericBaseline {
  const present: number[] = [];
  for (const value of values) {
    if (value === null || value === undefined || Number.isNaN(value)) continue;
    if (!Number.isFinite(value)) throw new RangeError(`a numeric baseline needs finite values, got ${value}`);
    present.push(value);
  }
  if (present.length === 0) throw new RangeError('a numeric baseline needs at least one value that is not missing');
  const sorted = [...present].sort((a, b) => a - b);
  const edges = quantileEdges(sorted, bins);
  const counts = new Array<number>(edges.length - 1).fill(0);
  let underflow = 0;
  let overflow = 0;
  for (const value of present) {
    const bin = binIndex(edges, value);
    if (bin === -1) underflow++;
    else if (bin === counts.length) overflow++;
    else counts[bin]!++;
  }
  const mean = present.reduce((sum, x) => sum + x, 0) / present.length;
  const variance = present.reduce((sum, x) => sum + (x - mean) ** 2, 0) / present.length;
  return {
    kind: 'numeric',
    edges,
    counts,
    underflow,
    overflow,
    missing: values.length - present.length,
    count: values.length,
    mean,
    std: Math.sqrt(variance),
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
  };
}

/**
 * Counts per distinct value (keys are the values as strings, sorted). Declared `categories` all appear,
 * with 0 when unseen. `count` is every row, so the counts plus `missing` add up to it.
 */
export function categoricalBaseline(values: readonly (FeatureValue | null | undefined)[], categories: readonly (string | number)[] = []): CategoricalBaseline {
  const counts = new Map<string, number>(categories.map((category) => [String(category), 0]));
  let missing = 0;
  for (const value of values) {
    if (value === null || value === undefined) missing++;
    else counts.set(String(value), (counts.get(String(value)) ?? 0) + 1);
  }
  const sortedKeys = [...counts.keys()].sort();
  return {
    kind: 'categorical',
    counts: Object.fromEntries(sortedKeys.map((key) => [key, counts.get(key) as number])),
    missing,
    count: values.length,
  };
}

/**
 * The bin of `value` for k + 1 ascending edges: i when edges[i] <= value < edges[i+1] (the last bin also
 * holds edges[k]), -1 below edges[0] (underflow), k above edges[k] (overflow). Missing values are the
 * caller's to count: NaN throws.
 */
export function binIndex(edges: readonly number[], value: number): number {
  if (Number.isNaN(value)) throw new RangeError('binIndex: NaN has no bin; count it as missing');
  const last = edges.length - 1;
  if (value < (edges[0] as number)) return -1;
  if (value > (edges[last] as number)) return last;
  if (value === edges[last]) return last - 1;
  // Binary search for the largest i with edges[i] <= value.
  let low = 0;
  let high = last - 1;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if ((edges[middle] as number) <= value) low = middle;
    else high = middle - 1;
  }
  return low;
}

function quantileEdges(sorted: readonly number[], bins: number): number[] {
  const edges: number[] = [];
  for (let i = 0; i <= bins; i++) {
    const position = ((sorted.length - 1) * i) / bins;
    const below = Math.floor(position);
    const lower = sorted[below] as number;
    const upper = sorted[Math.min(below + 1, sorted.length - 1)] as number;
    const edge = lower + (position - below) * (upper - lower);
    if (edges.length === 0 || edge > (edges[edges.length - 1] as number)) edges.push(edge);
  }
  if (edges.length === 1) {
    const value = edges[0] as number;
    edges.push(value + Math.max(Math.abs(value), 1) * Number.EPSILON);
  }
  return edges;
}
