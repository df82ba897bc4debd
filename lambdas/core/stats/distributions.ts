// The probability distributions the statistics need, from stdlib (well tested against R and SciPy)
// rather than hand-written approximations. Everything statistical imports them from here.
import gammainc from '@stdlib/math-base-special-gammainc';
import normalCdfImpl from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantileImpl from '@stdlib/stats-base-dists-normal-quantile';
import studentTCdfImpl from '@stdlib/stats-base-dists-t-cdf';
import studentTQuantileImpl from '@stdlib/stats-base-dists-t-quantile';

/** Standard normal CDF. */
export function normalCdf(x: number): number {
  return normalCdfImpl(x, 0, 1);
}

/** Standard normal density. The closed form is exact, so no library is needed for it. */
export function normalPdf(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

/** Standard normal quantile (inverse CDF), p in (0, 1). */
export function normalQuantile(p: number): number {
  return normalQuantileImpl(p, 0, 1);
}

/** Student's t CDF with `df` degrees of freedom (df may be fractional, e.g. Welch-Satterthwaite). */
export function studentTCdf(x: number, df: number): number {
  return studentTCdfImpl(x, df);
}

/** Student's t quantile with `df` degrees of freedom. */
export function studentTQuantile(p: number, df: number): number {
  return studentTQuantileImpl(p, df);
}

/** Upper tail P(X >= x) of the chi-squared distribution with `df` degrees of freedom. */
export function chiSquaredSurvival(x: number, df: number): number {
  // The regularized upper incomplete gamma keeps precision for tiny p-values (1 - cdf would round to 0).
  return x <= 0 ? 1 : gammainc(x / 2, df / 2, true, true);
}

/**
 * The x with P(X >= x) = p for the chi-squared distribution with `df` degrees of freedom (p in (0, 1)):
 * bisection on `chiSquaredSurvival`, which is monotone, to the precision of a double.
 */
export function chiSquaredQuantileAbove(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) throw new RangeError(`need p in (0, 1) and df > 0, got p ${p}, df ${df}`);
  let low = 0;
  let high = Math.max(1, df);
  while (chiSquaredSurvival(high, df) > p) high *= 2;
  for (let i = 0; i < 200 && high - low > 1e-12 * high; i++) {
    const middle = (low + high) / 2;
    if (chiSquaredSurvival(middle, df) > p) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

/**
 * Upper tail P(K > x) of the Kolmogorov distribution: the limit of sqrt(n) * D_n for the
 * Kolmogorov-Smirnov statistic (scipy's `kstwobign.sf`). Kolmogorov's (1933) alternating series
 * 2 * sum_k (-1)^(k-1) exp(-2 k^2 x^2) converges fast for large x; for small x it cancels badly, so the
 * CDF is taken from the equivalent Jacobi theta form sqrt(2 pi) / x * sum_k exp(-(2k-1)^2 pi^2 / (8 x^2)).
 */
export function kolmogorovSurvival(x: number): number {
  if (!(x > 0)) return 1;
  if (x < 1) {
    const factor = -(Math.PI * Math.PI) / (8 * x * x);
    let cdf = 0;
    for (let k = 1; k <= 20; k++) {
      const term = Math.exp(factor * (2 * k - 1) ** 2);
      cdf += term;
      if (term < 1e-17 * cdf) break;
    }
    return Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / x) * cdf);
  }
  let survival = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * x * x);
    survival += (k % 2 === 1 ? 2 : -2) * term;
    if (term < 1e-17 * survival) break;
  }
  return Math.min(1, Math.max(0, survival));
}

/** Above this sample size the two-sample KS p-value is asymptotic, as in scipy's `ks_2samp` (method "auto"). */
const EXACT_KS_MAX_N = 10_000;

/**
 * P(D >= d) for the two-sided two-sample Kolmogorov-Smirnov statistic D of samples of sizes n1 and n2
 * drawn from one continuous distribution.
 *
 * When both sizes are <= 10 000 it is exact, as scipy's `ks_2samp` default: a uniformly random monotone
 * lattice path from (0, 0) to (n1, n2) is the merged order of the two samples, and D >= d when the path
 * touches a point with |i/n1 - j/n2| >= d. The dynamic programme carries, per lattice point, the share of
 * paths to it that have touched the boundary (a path reaches (i, j) from (i-1, j) with probability
 * i / (i + j)), so every number stays in [0, 1] and tiny p-values keep their precision. Cost O(n1 n2).
 *
 * Larger samples use the Kolmogorov limit with Stephens' (1970) small-sample correction,
 * Q((sqrt(en) + 0.12 + 0.11 / sqrt(en)) d) with en = n1 n2 / (n1 + n2). scipy's asymptotic mode uses the
 * finite-n one-sample distribution `kstwo.sf(d, round(en))` instead; the two agree to about 1% of the
 * p-value near p = 0.05 for en >= 50 (checked against scipy 1.17).
 */
export function twoSampleKsSurvival(d: number, n1: number, n2: number): number {
  if (!(d > 0)) return 1;
  if (d > 1) return 0;
  if (Math.max(n1, n2) > EXACT_KS_MAX_N) {
    const sqrtEn = Math.sqrt((n1 * n2) / (n1 + n2));
    return kolmogorovSurvival((sqrtEn + 0.12 + 0.11 / sqrtEn) * d);
  }
  // |i/n1 - j/n2| >= d  <=>  |i n2 - j n1| >= d n1 n2; the left side is an integer, so compare with the
  // smallest integer not below d n1 n2 (the tolerance absorbs rounding of a d that is exactly on the lattice).
  const boundary = Math.ceil(d * n1 * n2 - 1e-7);
  const touched = new Float64Array(n2 + 1);
  for (let j = 1; j <= n2; j++) touched[j] = j * n1 >= boundary ? 1 : (touched[j - 1] as number);
  for (let i = 1; i <= n1; i++) {
    touched[0] = i * n2 >= boundary ? 1 : (touched[0] as number);
    for (let j = 1; j <= n2; j++) {
      touched[j] = Math.abs(i * n2 - j * n1) >= boundary ? 1 : (i * (touched[j] as number) + j * (touched[j - 1] as number)) / (i + j);
    }
  }
  return touched[n2] as number;
}
