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
