import { describe, expect, it } from 'vitest';
import { analyzeMetric, type AnalysisOptions } from '../../lambdas/core/experiments/analysis';
import { bayesianTest } from '../../lambdas/core/experiments/bayesian';
import { fixedHorizonTest, sequentialTest } from '../../lambdas/core/experiments/frequentist';
import { adjustPValues } from '../../lambdas/core/experiments/multiple-testing';
import { requiredSampleSizePerArm } from '../../lambdas/core/experiments/sample-size';
import { checkSampleRatio } from '../../lambdas/core/experiments/srm';
import { armMoments, ExperimentDataError, toArmStats, type ArmStats } from '../../lambdas/core/experiments/sufficient-statistics';

// Known answers: /work/shared/reference/known-answers.md (GrowthBook stats engine tests).
const meanControl = { n: 3407, sum: 1396.87, sumSquares: 52377.9767 };
const meanTreatment = { n: 3461, sum: 2422.7, sumSquares: 134698.29 };

interface KnownAnswer {
  readonly name: string;
  readonly control: ArmStats;
  readonly treatment: ArmStats;
  readonly options: AnalysisOptions;
  readonly lift?: number;
  readonly ci: readonly [number, number];
  readonly standardError?: number;
  readonly pValue?: number;
  readonly chanceToWin?: number;
  readonly risk?: readonly [number, number];
}

const KNOWN_ANSWERS: readonly KnownAnswer[] = [
  {
    name: 'mean metric, relative',
    control: meanControl,
    treatment: meanTreatment,
    options: { engine: 'frequentist' },
    lift: 0.70732,
    ci: [-0.03526, 1.44989],
    standardError: 0.37879,
    pValue: 0.06191,
  },
  {
    name: 'mean metric, absolute',
    control: meanControl,
    treatment: meanTreatment,
    options: { engine: 'frequentist', scale: 'absolute' },
    lift: 0.29,
    ci: [0.04538, 0.53462],
    pValue: 0.02016,
  },
  {
    name: 'proportion, relative',
    control: { n: 28, conversions: 14 },
    treatment: { n: 30, conversions: 16 },
    options: { engine: 'frequentist' },
    lift: 0.06667,
    ci: [-0.47767, 0.61101],
    pValue: 0.80707,
  },
  {
    name: 'sequential, mean metric, N* = 1000',
    control: { n: 3000, sum: 1396.87, sumSquares: 52377.9767 },
    treatment: meanTreatment,
    options: { engine: 'sequential', sequentialTuning: 1000 },
    ci: [-0.55844, 1.56516],
    pValue: 1,
  },
  {
    name: 'sequential, proportion, N* = 5000',
    control: { n: 3000, conversions: 1396 },
    treatment: { n: 3461, conversions: 2422 },
    options: { engine: 'sequential', sequentialTuning: 5000 },
    lift: 0.50386,
    ci: [0.40098, 0.60675],
  },
  {
    name: 'bayesian, proportion',
    control: { n: 100, conversions: 49 },
    treatment: { n: 100, conversions: 51 },
    options: { engine: 'bayesian' },
    ci: [-0.24779, 0.32943],
    chanceToWin: 0.60918,
    risk: [0.0814, 0.04058],
  },
  {
    name: 'bayesian, mean metric',
    control: { n: 10, sum: 100, sumSquares: 1002.25 },
    treatment: { n: 10, sum: 105, sumSquares: 1111.5 },
    options: { engine: 'bayesian' },
    lift: 0.05,
    ci: [-0.02, 0.12],
    chanceToWin: 0.91923,
  },
];

describe('known answers (GrowthBook), to 4 decimals', () => {
  it.each(KNOWN_ANSWERS)('$name', (known) => {
    const result = analyzeMetric(known.control, known.treatment, known.options);
    expect(result.ci[0]).toBeCloseTo(known.ci[0], 4);
    expect(result.ci[1]).toBeCloseTo(known.ci[1], 4);
    if (known.lift !== undefined) expect(result.lift).toBeCloseTo(known.lift, 4);
    if (known.standardError !== undefined) expect(result.standardError).toBeCloseTo(known.standardError, 4);
    if (known.pValue !== undefined) {
      expect(result.engine).not.toBe('bayesian');
      if (result.engine !== 'bayesian') expect(result.pValue).toBeCloseTo(known.pValue, 4);
    }
    if (known.chanceToWin !== undefined) {
      expect(result.engine).toBe('bayesian');
      if (result.engine === 'bayesian') {
        expect(result.chanceToWin).toBeCloseTo(known.chanceToWin, 4);
        if (known.risk) {
          expect(result.risk.control).toBeCloseTo(known.risk[0], 4);
          expect(result.risk.treatment).toBeCloseTo(known.risk[1], 4);
        }
      }
    }
  });

  it('bayesian with a proper prior N(0.1, 0.1) on the lift', () => {
    const result = bayesianTest({ n: 10, sum: 100, sumSquares: 1002.25 }, { n: 10, sum: 105, sumSquares: 1111.5 }, { prior: { mean: 0.1, variance: 0.1 } });
    expect(result.lift).toBeCloseTo(0.05063, 4);
    expect(result.chanceToWin).toBeCloseTo(0.92315, 4);
  });

  it.each([
    { observed: [1000, 1200], chiSquared: 18.18182, pValue: 2.0e-5, mismatch: true },
    { observed: [5000, 5100], chiSquared: 0.990099, pValue: 0.3197, mismatch: false },
    { observed: [9463, 7681], chiSquared: 185.22655, pValue: 3.5e-42, mismatch: true },
  ])('sample ratio $observed against 50/50', ({ observed, chiSquared, pValue, mismatch }) => {
    const check = checkSampleRatio(observed, [0.5, 0.5]);
    expect(check.chiSquared).toBeCloseTo(chiSquared, 4);
    // Tiny p-values are compared on their leading digits, the way they are published.
    expect(check.pValue / pValue).toBeCloseTo(1, 1);
    expect(check.mismatch).toBe(mismatch);
    expect(check.expected).toEqual(observed.map(() => (observed[0]! + observed[1]!) / 2));
  });
});

describe('sufficient statistics', () => {
  it('a proportion has the Bernoulli variance p(1 - p), a mean metric the sample variance', () => {
    expect(armMoments({ n: 28, conversions: 14 })).toEqual({ n: 28, mean: 0.5, variance: 0.25 });
    const moments = armMoments({ n: 10, sum: 100, sumSquares: 1002.25 });
    expect(moments.mean).toBe(10);
    expect(moments.variance).toBeCloseTo(0.25, 12);
  });

  it('the sequential p-value is below alpha exactly when its interval excludes zero', () => {
    for (const conversions of [1500, 1550, 1580, 1600, 1700]) {
      const r = sequentialTest({ n: 3000, conversions: 1500 }, { n: 3000, conversions }, { tuning: 5000 });
      expect(r.pValue < 0.05).toBe(r.ci[0] > 0 || r.ci[1] < 0);
    }
  });

  it('the fixed-horizon test keeps precision for tiny p-values', () => {
    const r = fixedHorizonTest({ n: 10000, conversions: 1000 }, { n: 10000, conversions: 2000 });
    expect(r.pValue).toBeGreaterThan(0);
    expect(r.pValue).toBeLessThan(1e-20);
  });

  it.each([
    { value: { n: -5, sum: 1, sumSquares: 1 }, field: 'n', reason: /whole number of units >= 2, got -5/ },
    { value: { n: 10, conversions: 11 }, field: 'conversions', reason: /must not exceed n \(10\), got 11/ },
    { value: { n: 10, conversions: 2.5 }, field: 'conversions', reason: /whole number >= 0, got 2.5/ },
    { value: { n: 10, sum: 100 }, field: 'sumSquares', reason: /is missing/ },
    { value: { n: 10, sum: '100', sumSquares: 1 }, field: 'sum', reason: /must be a number, got "100"/ },
    { value: { n: 10, sum: 100, sumSquares: 50 }, field: 'sumSquares', reason: /at least sum\^2 \/ n \(1000\)/ },
    { value: { n: 10, conversions: 5, sum: 3 }, field: 'sum', reason: /not a field of \{n, conversions\}/ },
    { value: [1, 2], field: 'arm', reason: /must be \{n, sum, sumSquares\} \(mean metric\) or \{n, conversions\}/ },
    { value: { n: 10 }, field: 'arm', reason: /got \{"n":10\}/ },
  ])('rejects $value: $field', ({ value, field, reason }) => {
    try {
      toArmStats(value);
      expect.unreachable('should have thrown');
    } catch (error) {
      expect(error).toBeInstanceOf(ExperimentDataError);
      const issue = (error as ExperimentDataError).issues.find((i) => i.field === field);
      expect(issue?.reason).toMatch(reason);
    }
  });

  it('refuses a relative lift on a zero control mean, and a pair with no variance', () => {
    expect(() => fixedHorizonTest({ n: 100, conversions: 0 }, { n: 100, conversions: 5 })).toThrow(/non-zero control mean/);
    expect(() => fixedHorizonTest({ n: 100, conversions: 100 }, { n: 100, conversions: 100 }, { scale: 'absolute' })).toThrow(/does not vary/);
    expect(() => fixedHorizonTest({ n: 100, conversions: 5 }, { n: 100, sum: 5, sumSquares: 5 })).toThrow(/same kind of metric/);
  });

  it('checks weights and counts of the sample ratio', () => {
    expect(() => checkSampleRatio([1000, 1200], [0.5, 0.6])).toThrow(/weights: must sum to 1, got 1.1/);
    expect(() => checkSampleRatio([1000, 1200], [1])).toThrow(/one weight per arm/);
    expect(() => checkSampleRatio([1000, -1], [0.5, 0.5])).toThrow(/counts: must be whole numbers >= 0, got -1/);
    expect(checkSampleRatio([900, 2100], [0.3, 0.7]).mismatch).toBe(false);
  });
});

describe('multiple testing corrections (match R p.adjust)', () => {
  const pValues = [0.01, 0.04, 0.03, 0.005];

  it('Holm: step-down, family-wise error', () => {
    // Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04, then a running maximum.
    const adjusted = adjustPValues(pValues, 'holm');
    [0.03, 0.06, 0.06, 0.02].forEach((p, i) => {
      expect(adjusted[i]).toBeCloseTo(p, 12);
    });
  });

  it('Benjamini-Hochberg: step-up, false discovery rate', () => {
    // Sorted times 4/1, 4/2, 4/3, 4/4 = 0.02, 0.02, 0.04, 0.04, then a running minimum from the top.
    const adjusted = adjustPValues(pValues, 'benjamini-hochberg');
    [0.02, 0.04, 0.04, 0.02].forEach((p, i) => {
      expect(adjusted[i]).toBeCloseTo(p, 12);
    });
  });

  it("Benjamini & Hochberg (1995)'s 15 p-values: BH rejects 4 at 0.05, Holm 3", () => {
    const paper = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.324, 0.4262, 0.5719, 0.6528, 0.759, 1];
    expect(adjustPValues(paper, 'benjamini-hochberg').filter((p) => p < 0.05)).toHaveLength(4);
    expect(adjustPValues(paper, 'holm').filter((p) => p < 0.05)).toHaveLength(3);
  });

  it('caps at 1 and keeps an empty family empty', () => {
    expect(adjustPValues([0.5, 0.9], 'holm')).toEqual([1, 1]);
    expect(adjustPValues([], 'benjamini-hochberg')).toEqual([]);
  });
});

describe('required sample size per arm', () => {
  it.each([
    // (1.95996 * sqrt(2 * 0.11 * 0.89) + 0.84162 * sqrt(0.09 + 0.1056))^2 / 0.02^2 = 3840.8
    {
      name: 'proportion 10% -> 12%, absolute MDE',
      baseline: { kind: 'proportion', rate: 0.1 },
      mde: { absolute: 0.02 },
      n: 3841,
    },
    {
      name: 'proportion 10% -> 12%, relative MDE 20%',
      baseline: { kind: 'proportion', rate: 0.1 },
      mde: { relative: 0.2 },
      n: 3841,
    },
    // 2 * 1 * (1.95996 + 0.84162)^2 / 0.1^2 = 1569.8: the textbook 16 sigma^2 / d^2 rule gives 1600.
    {
      name: 'mean, sd 1, absolute MDE 0.1',
      baseline: { kind: 'mean', mean: 5, standardDeviation: 1 },
      mde: { absolute: 0.1 },
      n: 1570,
    },
    {
      name: 'mean, sd 1, relative MDE 2% of 5',
      baseline: { kind: 'mean', mean: 5, standardDeviation: 1 },
      mde: { relative: 0.02 },
      n: 1570,
    },
  ] as const)('$name', ({ baseline, mde, n }) => {
    expect(requiredSampleSizePerArm(baseline, mde)).toBe(n);
  });

  it('grows with power and with a stricter alpha', () => {
    const baseline = { kind: 'proportion', rate: 0.1 } as const;
    const base = requiredSampleSizePerArm(baseline, { relative: 0.2 });
    expect(requiredSampleSizePerArm(baseline, { relative: 0.2 }, { power: 0.9 })).toBeGreaterThan(base);
    expect(requiredSampleSizePerArm(baseline, { relative: 0.2 }, { alpha: 0.01 })).toBeGreaterThan(base);
  });

  it('rejects a plan that cannot be computed', () => {
    expect(() => requiredSampleSizePerArm({ kind: 'proportion', rate: 0.95 }, { absolute: 0.1 })).toThrow(/moves the rate out of \(0, 1\)/);
    expect(() => requiredSampleSizePerArm({ kind: 'proportion', rate: 0.1 }, { relative: 0 })).toThrow(/mde/);
    expect(() => requiredSampleSizePerArm({ kind: 'mean', mean: 1, standardDeviation: 0 }, { absolute: 1 })).toThrow(/standardDeviation/);
    expect(() => requiredSampleSizePerArm({ kind: 'proportion', rate: 0.1 }, { absolute: 0.02 }, { power: 1 })).toThrow(/power/);
  });
});
