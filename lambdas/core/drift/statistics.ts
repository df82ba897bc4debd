// Drift statistics between a reference and a current distribution, on raw samples and on counts.
// Definitions follow Evidently (evidentlyai/evidently, calculations/stattests) and SciPy, whose numbers
// test/core/drift-statistics.test.ts reproduces. Count arrays are aligned: index i is the same category
// or bin in both.
import { chiSquaredSurvival, twoSampleKsSurvival } from '../stats/distributions';

/** A test statistic and its p-value. */
export interface TestResult {
  readonly statistic: number;
  readonly pValue: number;
}

/** A chi-squared test: statistic, p-value and degrees of freedom. */
export interface ChiSquaredResult extends TestResult {
  readonly degreesOfFreedom: number;
}

/**
 * A histogram over fixed edges with the mass outside them: bin i is [edges[i], edges[i+1]) and the last
 * bin also holds edges[k]; `underflow` values lie in [min, edges[0]), `overflow` values in (edges[k], max].
 * `min` / `max` are the extremes of the values (null when there are none).
 */
export interface Histogram {
  readonly edges: readonly number[];
  readonly counts: readonly number[];
  readonly underflow: number;
  readonly overflow: number;
  readonly min: number | null;
  readonly max: number | null;
}

/**
 * Population Stability Index, sum((r - c) ln(r / c)) over the shares of each bin or category. An empty
 * bin would make it infinite, so, as Evidently does, each side's zero shares become 1e-4, or the smallest
 * non-zero share / 1e6 when that share is <= 1e-4. NaN when either side has no values.
 */
export function psi(referenceCounts: readonly number[], currentCounts: readonly number[]): number {
  const [reference, current] = alignedShares(referenceCounts, currentCounts);
  if (!reference || !current) return Number.NaN;
  const r = fillEmptyShares(reference);
  const c = fillEmptyShares(current);
  return r.reduce((sum, share, i) => sum + (share - (c[i] as number)) * Math.log(share / (c[i] as number)), 0);
}

/**
 * Kullback-Leibler divergence KL(reference || current) in nats, with empty shares filled as for PSI
 * (Evidently's `kl_div`). NaN when either side has no values.
 */
export function klDivergence(referenceCounts: readonly number[], currentCounts: readonly number[]): number {
  const [reference, current] = alignedShares(referenceCounts, currentCounts);
  if (!reference || !current) return Number.NaN;
  const r = fillEmptyShares(reference);
  const c = fillEmptyShares(current);
  return r.reduce((sum, share, i) => sum + share * Math.log(share / (c[i] as number)), 0);
}

/**
 * Jensen-Shannon distance with the natural logarithm (scipy.spatial.distance.jensenshannon with its
 * default base): the square root of the mean KL divergence of each side from their average. It is
 * bounded by sqrt(ln 2) ~ 0.8326 and needs no filling of empty bins. NaN when either side has no values.
 */
export function jensenShannonDistance(referenceCounts: readonly number[], currentCounts: readonly number[]): number {
  const [p, q] = alignedShares(referenceCounts, currentCounts);
  if (!p || !q) return Number.NaN;
  let divergence = 0;
  p.forEach((pi, i) => {
    const qi = q[i] as number;
    const mi = (pi + qi) / 2;
    if (pi > 0) divergence += pi * Math.log(pi / mi);
    if (qi > 0) divergence += qi * Math.log(qi / mi);
  });
  return Math.sqrt(Math.max(0, divergence / 2));
}

/**
 * Hellinger distance, sqrt(sum((sqrt(p) - sqrt(q))^2) / 2), in [0, 1]. Written as a sum of squares rather
 * than sqrt(1 - sum(sqrt(p q))), which loses the small distances that matter to rounding.
 */
export function hellingerDistance(referenceCounts: readonly number[], currentCounts: readonly number[]): number {
  const [p, q] = alignedShares(referenceCounts, currentCounts);
  if (!p || !q) return Number.NaN;
  const sum = p.reduce((total, pi, i) => total + (Math.sqrt(pi) - Math.sqrt(q[i] as number)) ** 2, 0);
  return Math.sqrt(sum / 2);
}

/**
 * Chi-squared goodness of fit of the current counts to the reference shares (Evidently's `chisquare`
 * stattest; scipy.stats.chisquare with f_exp = reference share x current total). It treats the reference
 * shares as exact. A category with reference count 0 and current count > 0 makes the statistic infinite
 * and the p-value 0; categories empty on both sides are left out.
 */
export function chiSquaredGoodnessOfFit(referenceCounts: readonly number[], currentCounts: readonly number[]): ChiSquaredResult {
  assertAligned(referenceCounts, currentCounts);
  const referenceTotal = sum(referenceCounts);
  const currentTotal = sum(currentCounts);
  if (referenceTotal === 0 || currentTotal === 0) return { statistic: Number.NaN, pValue: Number.NaN, degreesOfFreedom: 0 };
  let statistic = 0;
  let categories = 0;
  referenceCounts.forEach((referenceCount, i) => {
    const observed = currentCounts[i] as number;
    if (referenceCount === 0 && observed === 0) return;
    categories++;
    const expected = (referenceCount / referenceTotal) * currentTotal;
    statistic += expected === 0 ? Number.POSITIVE_INFINITY : (observed - expected) ** 2 / expected;
  });
  return chiSquared(statistic, categories - 1);
}

/**
 * Chi-squared test of homogeneity on the 2 x k contingency table (reference, current) x categories
 * (scipy.stats.chi2_contingency without continuity correction). Both samples count as samples, so a
 * small reference does not inflate the statistic; with two categories it equals the pooled two-proportion
 * z-test (z^2 = chi^2). Categories empty on both sides are left out.
 */
export function chiSquaredHomogeneity(referenceCounts: readonly number[], currentCounts: readonly number[]): ChiSquaredResult {
  assertAligned(referenceCounts, currentCounts);
  const referenceTotal = sum(referenceCounts);
  const currentTotal = sum(currentCounts);
  if (referenceTotal === 0 || currentTotal === 0) return { statistic: Number.NaN, pValue: Number.NaN, degreesOfFreedom: 0 };
  const total = referenceTotal + currentTotal;
  let statistic = 0;
  let categories = 0;
  referenceCounts.forEach((referenceCount, i) => {
    const currentCount = currentCounts[i] as number;
    const categoryTotal = referenceCount + currentCount;
    if (categoryTotal === 0) return;
    categories++;
    const expectedReference = (referenceTotal * categoryTotal) / total;
    const expectedCurrent = (currentTotal * categoryTotal) / total;
    statistic += (referenceCount - expectedReference) ** 2 / expectedReference + (currentCount - expectedCurrent) ** 2 / expectedCurrent;
  });
  return chiSquared(statistic, categories - 1);
}

/**
 * Two-sided two-sample Kolmogorov-Smirnov test, as scipy.stats.ks_2samp (method "auto"): D is the largest
 * distance between the two empirical CDFs (ties handled by stepping past every copy of a value on both
 * sides); the p-value is exact up to 10 000 values per sample and asymptotic above (see
 * `twoSampleKsSurvival`). The exact p-value assumes no ties, as SciPy's does.
 */
export function ksTwoSample(reference: readonly number[], current: readonly number[]): TestResult {
  if (reference.length === 0 || current.length === 0) return { statistic: Number.NaN, pValue: Number.NaN };
  const a = sortedCopy(reference);
  const b = sortedCopy(current);
  const n1 = a.length;
  const n2 = b.length;
  // i/n1 - j/n2 scaled by n1 n2 is the integer i n2 - j n1: exact, and on the p-value's lattice.
  let largest = 0;
  let i = 0;
  let j = 0;
  while (i < n1 && j < n2) {
    const value = Math.min(a[i] as number, b[j] as number);
    while (i < n1 && a[i] === value) i++;
    while (j < n2 && b[j] === value) j++;
    largest = Math.max(largest, Math.abs(i * n2 - j * n1));
  }
  const statistic = largest / (n1 * n2);
  return { statistic, pValue: twoSampleKsSurvival(statistic, n1, n2) };
}

/**
 * Wasserstein-1 (earth mover's) distance between two samples, the area between their empirical CDFs
 * (scipy.stats.wasserstein_distance). NaN when either sample is empty.
 */
export function wasserstein1(reference: readonly number[], current: readonly number[]): number {
  if (reference.length === 0 || current.length === 0) return Number.NaN;
  const a = sortedCopy(reference);
  const b = sortedCopy(current);
  let area = 0;
  let i = 0;
  let j = 0;
  let previous = Math.min(a[0] as number, b[0] as number);
  while (i < a.length || j < b.length) {
    const value = Math.min(a[i] ?? Number.POSITIVE_INFINITY, b[j] ?? Number.POSITIVE_INFINITY);
    area += Math.abs(i / a.length - j / b.length) * (value - previous);
    while (i < a.length && a[i] === value) i++;
    while (j < b.length && b[j] === value) j++;
    previous = value;
  }
  return area;
}

/**
 * Wasserstein-1 distance divided by the reference's population standard deviation (floored at 0.001),
 * Evidently's `wasserstein` stattest: 0.1 means the distributions are a tenth of a standard deviation apart.
 */
export function wassersteinNormalised(reference: readonly number[], current: readonly number[]): number {
  return wasserstein1(reference, current) / wassersteinScale(populationStd(reference));
}

/**
 * The two-sample KS statistic on histograms over the same edges, with its p-value for the histograms'
 * totals. The CDFs are known exactly only at the edges; within the under/overflow range they are taken as
 * linear between min and the first edge, the last edge and max. When the reference has nothing out of
 * range (a baseline, whose edges span its values), every point read is exact, so D is a lower bound of
 * the statistic on the raw values and the p-value an upper bound: binned KS can miss drift, not invent it.
 */
export function ksBinned(reference: Histogram, current: Histogram): TestResult {
  const n1 = histogramTotal(reference);
  const n2 = histogramTotal(current);
  if (n1 === 0 || n2 === 0) return { statistic: Number.NaN, pValue: Number.NaN };
  assertSameEdges(reference, current);
  const f = piecewiseLinearCdf(reference);
  const g = piecewiseLinearCdf(current);
  const statistic = Math.max(...knotUnion(f, g).map((x) => Math.abs(evaluate(f, x) - evaluate(g, x))));
  return { statistic, pValue: twoSampleKsSurvival(statistic, n1, n2) };
}

/**
 * Wasserstein-1 distance between two histograms over the same edges, divided by `referenceStd` (floored at
 * 0.001). Mass is taken as spread evenly within each bin (underflow over [min, edges[0]], overflow over
 * [edges[k], max]), so the CDFs are piecewise linear and the area between them is integrated exactly.
 * Spreading mass within its bin moves it less than the bin's width, so (triangle inequality) this differs
 * from the distance on the raw values by less than the widest occupied bin of each side, over the std.
 */
export function wassersteinNormalisedBinned(reference: Histogram, current: Histogram, referenceStd: number): number {
  if (histogramTotal(reference) === 0 || histogramTotal(current) === 0) return Number.NaN;
  assertSameEdges(reference, current);
  const f = piecewiseLinearCdf(reference);
  const g = piecewiseLinearCdf(current);
  const knots = knotUnion(f, g);
  let area = 0;
  for (let k = 1; k < knots.length; k++) {
    const left = knots[k - 1] as number;
    const right = knots[k] as number;
    area += areaOfAbsoluteLinear(evaluate(f, left) - evaluate(g, left), evaluate(f, right) - evaluate(g, right), right - left);
  }
  return area / wassersteinScale(referenceStd);
}

/** Population standard deviation (ddof 0, numpy.std's default). */
export function populationStd(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const mean = values.reduce((total, x) => total + x, 0) / values.length;
  return Math.sqrt(values.reduce((total, x) => total + (x - mean) ** 2, 0) / values.length);
}

/** Evidently divides by max(std, 0.001) so that a constant reference column does not divide by zero. */
function wassersteinScale(std: number): number {
  return Math.max(std, 0.001);
}

function chiSquared(statistic: number, degreesOfFreedom: number): ChiSquaredResult {
  if (degreesOfFreedom < 1) return { statistic: 0, pValue: 1, degreesOfFreedom: 0 };
  const pValue = statistic === Number.POSITIVE_INFINITY ? 0 : chiSquaredSurvival(statistic, degreesOfFreedom);
  return { statistic, pValue, degreesOfFreedom };
}

/** Shares of each side, or undefined for a side with no values. */
function alignedShares(referenceCounts: readonly number[], currentCounts: readonly number[]): [number[] | undefined, number[] | undefined] {
  assertAligned(referenceCounts, currentCounts);
  return [shares(referenceCounts), shares(currentCounts)];
}

function shares(counts: readonly number[]): number[] | undefined {
  const total = sum(counts);
  return total > 0 ? counts.map((count) => count / total) : undefined;
}

function fillEmptyShares(values: readonly number[]): number[] {
  const smallest = Math.min(...values.filter((share) => share > 0));
  const fill = smallest <= 1e-4 ? smallest / 1e6 : 1e-4;
  return values.map((share) => (share === 0 ? fill : share));
}

function assertAligned(referenceCounts: readonly number[], currentCounts: readonly number[]): void {
  if (referenceCounts.length !== currentCounts.length) {
    throw new RangeError(`reference and current counts must be aligned, got ${referenceCounts.length} and ${currentCounts.length} entries`);
  }
}

function assertSameEdges(reference: Histogram, current: Histogram): void {
  const same = reference.edges.length === current.edges.length && reference.edges.every((edge, i) => edge === current.edges[i]);
  if (!same || reference.counts.length !== reference.edges.length - 1 || current.counts.length !== current.edges.length - 1) {
    throw new RangeError('binned drift statistics need two histograms over the same edges');
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((total, x) => total + x, 0);
}

function sortedCopy(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

function histogramTotal(histogram: Histogram): number {
  return histogram.underflow + sum(histogram.counts) + histogram.overflow;
}

/** Knots (x ascending) of a CDF that is linear between them, 0 before the first and 1 after the last. */
interface Knots {
  readonly x: readonly number[];
  readonly cdf: readonly number[];
}

function piecewiseLinearCdf(histogram: Histogram): Knots {
  const total = histogramTotal(histogram);
  const x: number[] = [];
  const cdf: number[] = [];
  if (histogram.underflow > 0 && histogram.min !== null && histogram.min < (histogram.edges[0] as number)) {
    x.push(histogram.min);
    cdf.push(0);
  }
  let cumulative = histogram.underflow;
  histogram.edges.forEach((edge, i) => {
    x.push(edge);
    cdf.push(cumulative / total);
    cumulative += histogram.counts[i] ?? 0;
  });
  const last = histogram.edges[histogram.edges.length - 1] as number;
  if (histogram.overflow > 0 && histogram.max !== null && histogram.max > last) {
    x.push(histogram.max);
    cdf.push(1);
  } else {
    // Without a known max, overflow mass sits on the last edge.
    cdf[cdf.length - 1] = 1;
  }
  return { x, cdf };
}

function evaluate(knots: Knots, at: number): number {
  const { x, cdf } = knots;
  if (at < (x[0] as number)) return 0;
  if (at >= (x[x.length - 1] as number)) return cdf[cdf.length - 1] as number;
  let k = 1;
  while ((x[k] as number) <= at) k++;
  const left = x[k - 1] as number;
  const right = x[k] as number;
  const fraction = (at - left) / (right - left);
  return (cdf[k - 1] as number) + fraction * ((cdf[k] as number) - (cdf[k - 1] as number));
}

function knotUnion(f: Knots, g: Knots): number[] {
  return [...new Set([...f.x, ...g.x])].sort((a, b) => a - b);
}

/** The integral over a segment of width w of |a + (b - a) t / w|, which may change sign inside it. */
function areaOfAbsoluteLinear(a: number, b: number, width: number): number {
  if (a * b >= 0) return ((Math.abs(a) + Math.abs(b)) / 2) * width;
  return ((a * a + b * b) / (2 * (Math.abs(a) + Math.abs(b)))) * width;
}
