import { describe, expect, it } from 'vitest';
import {
  chiSquaredGoodnessOfFit,
  chiSquaredHomogeneity,
  hellingerDistance,
  jensenShannonDistance,
  klDivergence,
  ksBinned,
  ksTwoSample,
  populationStd,
  psi,
  wasserstein1,
  wassersteinNormalised,
  wassersteinNormalisedBinned,
  type Histogram,
} from '../../lambdas/core/drift/statistics';
import { kolmogorovSurvival, twoSampleKsSurvival } from '../../lambdas/core/stats/distributions';

/**
 * Agreement to the decimals the source states, as Evidently's own tests check it: pytest
 * approx(expected, abs=10^-decimals). (Hellinger 0.0681277 is published as 0.06812, truncated.)
 */
function expectDecimals(actual: number, expected: number, decimals: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(10 ** -decimals);
}

// reference/known-answers.md, "Drift — Evidently": six categories.
const REFERENCE = [16, 18, 16, 14, 12, 12];
const CURRENT = [16, 16, 16, 16, 16, 8];

describe('known answers (Evidently tests/stattests, categorical counts)', () => {
  it('chi-squared goodness of fit: p 0.67309, stat 3.1746', () => {
    const result = chiSquaredGoodnessOfFit(REFERENCE, CURRENT);
    expectDecimals(result.pValue, 0.67309, 5);
    expectDecimals(result.statistic, 3.1746, 4);
    expect(result.degreesOfFreedom).toBe(5);
  });

  it('chi-squared goodness of fit does not depend on the reference size (reference counts doubled)', () => {
    const result = chiSquaredGoodnessOfFit(
      REFERENCE.map((x) => 2 * x),
      CURRENT,
    );
    expectDecimals(result.pValue, 0.67309, 5);
  });

  it('Hellinger distance 0.06812', () => {
    expectDecimals(hellingerDistance(REFERENCE, CURRENT), 0.06812, 5);
  });

  it('PSI 0.03722', () => {
    expectDecimals(psi(REFERENCE, CURRENT), 0.03722, 5);
  });

  it('Jensen-Shannon distance (natural log) 0.06805', () => {
    expectDecimals(jensenShannonDistance(REFERENCE, CURRENT), 0.06805, 5);
  });

  it('KL divergence (reference, current) 0.01891', () => {
    expectDecimals(klDivergence(REFERENCE, CURRENT), 0.01891, 5);
  });

  it('chi-squared test of homogeneity: p 0.89853, stat 1.6224', () => {
    const result = chiSquaredHomogeneity(REFERENCE, CURRENT);
    expectDecimals(result.pValue, 0.89853, 5);
    expectDecimals(result.statistic, 1.6224, 4);
    expect(result.degreesOfFreedom).toBe(5);
  });
});

describe('distances on counts', () => {
  it.each([
    ['psi', psi],
    ['jensenShannonDistance', jensenShannonDistance],
    ['hellingerDistance', hellingerDistance],
    ['klDivergence', klDivergence],
  ])('%s is 0 for identical shares and NaN when a side is empty', (_, statistic) => {
    expect(statistic([3, 5, 2], [30, 50, 20])).toBeCloseTo(0, 12);
    expect(statistic([0, 0], [1, 2])).toBeNaN();
    expect(() => statistic([1, 2], [1, 2, 3])).toThrow(/aligned/);
  });

  it('PSI fills an empty share with 1e-4 (numbers from the Evidently formula in numpy)', () => {
    // reference shares [0, .5, .5] -> [1e-4, .5, .5]; current [.1, .45, .45]
    expectDecimals(psi([0, 50, 50], [10, 45, 45]), 0.7006208039360982, 12);
  });

  it('PSI fills with min / 1e6 when the smallest non-zero share is <= 1e-4', () => {
    // reference shares [0, 1e-5, 0.99999]: the empty one becomes 1e-11, not 1e-4
    expectDecimals(psi([0, 1, 99_999], [5, 5, 90]), 1.5529436729402228, 10);
  });

  it('Jensen-Shannon distance of disjoint distributions is sqrt(ln 2), with no fill', () => {
    expect(jensenShannonDistance([1, 0], [0, 1])).toBeCloseTo(Math.sqrt(Math.LN2), 12);
  });

  it('Hellinger distance of disjoint distributions is 1', () => {
    expect(hellingerDistance([5, 0], [0, 7])).toBeCloseTo(1, 12);
  });
});

describe('chi-squared tests', () => {
  it("homogeneity on 2 categories equals the pooled two-proportion z-test (Evidently's binary default)", () => {
    // 40/100 vs 55/100: z = -2.12398, two-sided p = 2 (1 - Phi(|z|)) = 0.0336721 (scipy.stats.norm)
    const result = chiSquaredHomogeneity([40, 60], [55, 45]);
    expectDecimals(result.statistic, 2.1239769762143665 ** 2, 9);
    expectDecimals(result.pValue, 0.03367206885634566, 9);
  });

  it('goodness of fit: a category the reference never had gives p = 0', () => {
    const result = chiSquaredGoodnessOfFit([10, 10, 0], [10, 10, 5]);
    expect(result.statistic).toBe(Number.POSITIVE_INFINITY);
    expect(result.pValue).toBe(0);
  });

  it('homogeneity: a category only the current has is a finite, significant difference', () => {
    const result = chiSquaredHomogeneity([50, 50, 0], [40, 40, 20]);
    expect(Number.isFinite(result.statistic)).toBe(true);
    expect(result.pValue).toBeLessThan(1e-4);
  });

  it('categories empty on both sides are left out of the degrees of freedom', () => {
    expect(chiSquaredHomogeneity([10, 0, 10], [12, 0, 8]).degreesOfFreedom).toBe(1);
    expect(chiSquaredGoodnessOfFit([10, 0, 10], [12, 0, 8]).degreesOfFreedom).toBe(1);
  });

  it('one category only: nothing to test, p = 1', () => {
    expect(chiSquaredHomogeneity([10], [3])).toEqual({ statistic: 0, pValue: 1, degreesOfFreedom: 0 });
  });
});

describe('two-sample Kolmogorov-Smirnov (as scipy.stats.ks_2samp, method auto)', () => {
  it('disjoint samples of 3: D = 1, p = 2 / C(6, 3) = 0.1 (two of the 20 merge orders are this extreme)', () => {
    const result = ksTwoSample([1, 2, 3], [4, 5, 6]);
    expect(result.statistic).toBe(1);
    expect(result.pValue).toBeCloseTo(0.1, 14);
  });

  it("Evidently's two samples of 8: D = 5/8, exact p = 1120 / C(16, 8) = 0.087024087 (scipy 1.17)", () => {
    const result = ksTwoSample([38.7, 41.5, 43.8, 44.5, 45.5, 46.0, 47.7, 58.0], [39.2, 39.3, 39.7, 41.4, 41.8, 42.9, 43.3, 45.8]);
    expect(result.statistic).toBe(0.625);
    expect(result.pValue).toBeCloseTo(1120 / 12870, 14);
  });

  it('ties step past every copy of a value on both sides: D = 13/35, p 0.7373737 (scipy 1.17)', () => {
    const result = ksTwoSample([1, 1, 2, 2, 3], [1, 2, 2, 3, 3, 3, 4]);
    expect(result.statistic).toBeCloseTo(0.37142857142857144, 14);
    expect(result.pValue).toBeCloseTo(0.7373737373737375, 12);
  });

  it('is symmetric and 0 / p 1 for identical samples', () => {
    expect(ksTwoSample([5, 1, 3], [3, 5, 1])).toEqual({ statistic: 0, pValue: 1 });
    const a = [0.1, 0.5, 0.9, 1.3];
    const b = [0.2, 0.4, 1.1, 1.7, 2.5];
    expect(ksTwoSample(a, b)).toEqual(ksTwoSample(b, a));
  });

  it('is NaN for an empty sample', () => {
    expect(ksTwoSample([], [1]).pValue).toBeNaN();
  });
});

describe('Kolmogorov distributions', () => {
  it.each([
    [0.5, 0.9639452436648751],
    [1.0, 0.26999967167735456],
    [1.36, 0.049485876755377876],
    [2, 0.0006709252557796953],
    [5, 3.8574996959278356e-22],
  ])('kolmogorovSurvival(%f) = scipy.stats.kstwobign.sf = %f', (x, expected) => {
    expect(kolmogorovSurvival(x) / expected).toBeCloseTo(1, 12);
  });

  it('exact two-sample tail matches scipy _attempt_exact_2kssamp', () => {
    // (n1, n2, D numerator over n1 n2) -> scipy 1.17 exact two-sided probability
    expect(twoSampleKsSurvival(20 / 35, 5, 7)).toBeCloseTo(0.23737373737373738, 14);
    expect(twoSampleKsSurvival(60 / 130, 10, 13)).toBeCloseTo(0.12789297120970292, 14);
    expect(twoSampleKsSurvival(3000 / 13000, 100, 130) / 0.003935305727218404).toBeCloseTo(1, 10);
    expect(twoSampleKsSurvival(0.1, 1000, 800) / 0.0002558081529838337).toBeCloseTo(1, 10);
  });

  it('above 10 000 values it is asymptotic, within 1% of scipy kstwo.sf(d, round(en)) near p = 0.05-0.1', () => {
    // n1 = n2 = 20 000: en = 10 000, scipy kstwo.sf(0.015, 10000) = 0.02199415742419252
    expect(twoSampleKsSurvival(0.015, 20_000, 20_000) / 0.02199415742419252).toBeCloseTo(1, 2);
    // 20 000 vs 5 000: en = 4 000, scipy kstwo.sf(0.02, 4000) = 0.08043072865191048
    expect(twoSampleKsSurvival(0.02, 20_000, 5_000) / 0.08043072865191048).toBeCloseTo(1, 2);
  });
});

describe('Wasserstein distance', () => {
  it('of a sample and its shift by 5 is 5 (scipy.stats.wasserstein_distance docs example)', () => {
    expect(wasserstein1([0, 1, 3], [5, 6, 8])).toBeCloseTo(5, 14);
  });

  it('with ties and unequal sizes: 0.77142857 (scipy 1.17)', () => {
    expect(wasserstein1([1, 1, 2, 2, 3], [1, 2, 2, 3, 3, 3, 4])).toBeCloseTo(0.7714285714285716, 14);
  });

  it("normalised by the reference's population std (Evidently): 4.1625 / 5.32809 = 0.781236", () => {
    const reference = [38.7, 41.5, 43.8, 44.5, 45.5, 46.0, 47.7, 58.0];
    const current = [39.2, 39.3, 39.7, 41.4, 41.8, 42.9, 43.3, 45.8];
    expect(populationStd(reference)).toBeCloseTo(5.328094757978691, 12);
    expect(wassersteinNormalised(reference, current)).toBeCloseTo(0.781236105789365, 12);
  });

  it('a constant reference divides by 0.001, not 0', () => {
    expect(wassersteinNormalised([2, 2, 2], [2, 2, 3])).toBeCloseTo(1 / 3 / 0.001, 9);
  });
});

describe('binned KS and Wasserstein (online approximation)', () => {
  const histogram = (counts: number[], extra: Partial<Histogram> = {}): Histogram => ({
    edges: [0, 1, 2, 3, 4],
    counts,
    underflow: 0,
    overflow: 0,
    min: 0,
    max: 4,
    ...extra,
  });

  it('mass spread evenly in each bin: a shift by one bin is a Wasserstein distance of one bin width', () => {
    expect(wassersteinNormalisedBinned(histogram([10, 10, 0, 0]), histogram([0, 10, 10, 0]), 1)).toBeCloseTo(1, 12);
    expect(wassersteinNormalisedBinned(histogram([10, 0, 0, 0]), histogram([0, 0, 0, 10]), 2)).toBeCloseTo(1.5, 12);
  });

  it('identical histograms: zero distance, D = 0, p = 1', () => {
    expect(wassersteinNormalisedBinned(histogram([1, 2, 3, 4]), histogram([10, 20, 30, 40]), 1)).toBeCloseTo(0, 12);
    expect(ksBinned(histogram([1, 2, 3, 4]), histogram([10, 20, 30, 40]))).toEqual({ statistic: 0, pValue: 1 });
  });

  it('KS on bins reads the CDFs at the edges: D = 1 for disjoint bins', () => {
    const result = ksBinned(histogram([5, 0, 0, 0]), histogram([0, 0, 5, 0]));
    expect(result.statistic).toBe(1);
    expect(result.pValue).toBeCloseTo(2 / 252, 12); // two of the C(10, 5) merge orders
  });

  it('overflow mass spreads up to the current max: it moves the distance, it is not dropped', () => {
    const reference = histogram([10, 10, 10, 10]);
    const current = histogram([10, 10, 10, 0], { overflow: 10, max: 8 });
    // the top quarter moves from [3, 4] to [4, 8]: 0.25 * (6 - 3.5) = 0.625
    expect(wassersteinNormalisedBinned(reference, current, 1)).toBeCloseTo(0.625, 12);
    expect(ksBinned(reference, current).statistic).toBeCloseTo(0.25, 12);
  });

  it('approximates the statistics on the raw values (deterministic sample, 10 bins)', () => {
    const reference = Array.from({ length: 2000 }, (_, i) => Math.sin(i) * 10 + (i % 7));
    const current = reference.map((x) => x * 1.1 + 1);
    const edges = Array.from({ length: 11 }, (_, i) => -10 + i * 2.2);
    const bin = (values: number[]): Histogram => {
      const counts = new Array<number>(10).fill(0);
      let overflow = 0;
      for (const x of values) {
        const index = Math.min(Math.floor((x + 10) / 2.2), 9);
        if (x > 12) overflow++;
        else counts[index]!++;
      }
      return { edges, counts, underflow: 0, overflow, min: Math.min(...values), max: Math.max(...values) };
    };
    const std = populationStd(reference);
    const raw = wassersteinNormalised(reference, current);
    const binned = wassersteinNormalisedBinned(bin(reference), bin(current), std);
    expect(Math.abs(binned - raw)).toBeLessThan(2.2 / std); // within a bin width
    expect(ksBinned(bin(reference), bin(current)).statistic).toBeLessThanOrEqual(ksTwoSample(reference, current).statistic);
  });

  it('refuses histograms over different edges', () => {
    expect(() => ksBinned(histogram([1, 1, 1, 1]), { ...histogram([1, 1, 1]), edges: [0, 1, 2, 3] })).toThrow(/same edges/);
  });
});
