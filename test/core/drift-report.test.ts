import { describe, expect, it } from 'vitest';
import { categoricalBaseline, numericBaseline } from '../../lambdas/core/baseline';
import { addRow, emptyWindowAggregate, type WindowAggregate } from '../../lambdas/core/drift/aggregate';
import {
  type Column,
  defaultMethod,
  DriftConfigError,
  driftReport,
  driftReportFromAggregates,
  driftSettings,
  MIN_DRIFT_VALUES,
  minimumCurrentValues,
} from '../../lambdas/core/drift/report';
import { wassersteinNormalised } from '../../lambdas/core/drift/statistics';
import { chiSquaredQuantileAbove } from '../../lambdas/core/stats/distributions';
import type { Baseline, FeatureSpec } from '../../lambdas/core/manifest-types';

const categories = (counts: readonly number[], names = ['a', 'b', 'c', 'd', 'e', 'f']): Column => ({
  kind: 'categorical',
  values: counts.flatMap((count, i) => new Array<string>(count).fill(names[i] as string)),
});
const numbers = (values: readonly (number | null)[]): Column => ({ kind: 'numeric', values });

// Deterministic numeric samples with 101 distinct values (numpy reference numbers below are from them).
const REFERENCE_NUMBERS = Array.from({ length: 150 }, (_, i) => Math.round((i * 37) % 101) / 10);
const CURRENT_NUMBERS = Array.from({ length: 120 }, (_, i) => Math.round((((i * 53) % 113) / 10) * 10 + 8) / 10);

describe('defaultMethod (Evidently selection)', () => {
  it.each([
    ['numeric', 1000, 6, 'ks'],
    ['numeric', 1000, 5, 'chisquare'],
    ['categorical', 1000, 40, 'chisquare'],
    ['categorical', 10, 2, 'chisquare'],
    ['numeric', 1001, 6, 'wasserstein'],
    ['numeric', 1001, 5, 'jensenshannon'],
    ['categorical', 5000, 3, 'jensenshannon'],
  ] as const)('%s, %i reference values, %i distinct -> %s', (kind, rows, distinct, expected) => {
    expect(defaultMethod(kind, rows, distinct)).toBe(expected);
  });
});

describe('driftReport on raw columns', () => {
  it('reproduces the known answers on the Evidently categorical case, per method', () => {
    const reference = { color: categories([16, 18, 16, 14, 12, 12]) };
    const current = { color: categories([16, 16, 16, 16, 16, 8]) };
    const byDefault = driftReport(reference, current).features.color!;
    expect(byDefault).toMatchObject({ kind: 'categorical', method: 'chisquare', threshold: 0.05, drifted: false });
    expect(byDefault.pValue).toBeCloseTo(0.89853, 5);
    const psi = driftReport(reference, current, { settings: { color: { method: 'psi' } } }).features.color!;
    expect(psi.statistic).toBeCloseTo(0.03722, 5);
    expect(psi).toMatchObject({ pValue: null, threshold: 0.1, drifted: false });
    const js = driftReport(reference, current, { settings: { color: { method: 'jensenshannon', threshold: 0.05 } } });
    expect(js.features.color!.statistic).toBeCloseTo(0.06805, 5);
    // 88 against 88 values: sampling noise alone puts JS around 0.12, so 0.068 >= 0.05 is no verdict.
    expect(js.features.color).toMatchObject({ status: 'not-enough-data', drifted: false, minimum: null });
    expect(js).toMatchObject({ assessed: 0, status: 'not-enough-data', datasetDrift: false });
  });

  it('numeric: KS and Wasserstein on the samples, PSI and Jensen-Shannon over Sturges bins (numpy/scipy numbers)', () => {
    const reference = { x: numbers(REFERENCE_NUMBERS) };
    const current = { x: numbers(CURRENT_NUMBERS) };
    const report = (method: 'ks' | 'wasserstein' | 'psi' | 'jensenshannon') => driftReport(reference, current, { settings: { x: { method } } }).features.x!;
    expect(report('ks').statistic).toBeCloseTo(0.19, 12);
    expect(report('ks').pValue).toBeCloseTo(0.014167899103526862, 12);
    expect(report('wasserstein').statistic).toBeCloseTo(0.5026200106820119, 12);
    expect(report('psi').statistic).toBeCloseTo(0.9884954487390126, 12);
    expect(report('jensenshannon').statistic).toBeCloseTo(0.24569805309626205, 12);
    // 150 reference values, 101 distinct: the default is KS, and it drifts at p <= 0.05
    expect(driftReport(reference, current).features.x).toMatchObject({ method: 'ks', drifted: true, status: 'drift', outOfRange: 22 });
  });

  it('counts missing values, out-of-range values and unseen categories instead of dropping them', () => {
    const report = driftReport(
      { age: numbers([20, 30, null, 40]), plan: { kind: 'categorical', values: ['a', 'b', null, 'a'] } },
      { age: numbers([10, 30, 45, null, null]), plan: { kind: 'categorical', values: ['a', 'z', 'z', 'y', null] } },
    );
    expect(report.features.age).toMatchObject({
      reference: { values: 3, missing: 1 },
      current: { values: 3, missing: 2 },
      outOfRange: 2,
    });
    expect(report.features.plan).toMatchObject({
      reference: { values: 3, missing: 1 },
      current: { values: 4, missing: 1 },
      unseenCategories: 3,
      unseenExamples: ['z', 'y'],
    });
  });

  it('a numeric column with few distinct values is compared as categories', () => {
    const reference = numbers(Array.from({ length: 2000 }, (_, i) => i % 2));
    const current = numbers(Array.from({ length: 500 }, (_, i) => (i % 4 === 0 ? 1 : 0)));
    expect(driftReport({ flag: reference }, { flag: current }).features.flag).toMatchObject({
      method: 'jensenshannon',
      drifted: true,
    });
  });

  it('a side without values gives a null statistic and no verdict', () => {
    expect(driftReport({ x: numbers([1, 2, 3]) }, { x: numbers([null, null]) }).features.x).toMatchObject({
      statistic: null,
      pValue: null,
      drifted: false,
      status: 'not-enough-data',
      current: { values: 0, missing: 2 },
    });
  });

  it('dataset drift when at least half of the features drift', () => {
    const same = categories([30, 30]);
    const shifted = categories([54, 6]);
    const report = driftReport({ a: same, b: same, c: same, d: same }, { a: shifted, b: shifted, c: same, d: same });
    expect(report).toMatchObject({ driftShare: 0.5, datasetDrift: true });
    expect(driftReport({ a: same, b: same, c: same }, { a: shifted, b: same, c: same }).datasetDrift).toBe(false);
    expect(driftReport({ a: same, b: same }, { a: shifted, b: same }, { driftShareThreshold: 0.75 }).datasetDrift).toBe(false);
  });

  it('refuses a method or threshold that cannot apply', () => {
    const column = categories([3, 4]);
    expect(() => driftReport({ c: column }, { c: column }, { settings: { c: { method: 'ks' } } })).toThrow(DriftConfigError);
    expect(() => driftReport({ c: column }, { c: column }, { settings: { c: { method: 'chisquare', threshold: 1.5 } } })).toThrow(/significance level in \(0, 1\), got: 1.5/);
    expect(() => driftReport({ c: column }, {})).toThrow(/no such column/);
    expect(() => driftReport({ constructor: column }, {})).toThrow(/"constructor": the current data has no such column/);
    expect(() => driftReport({ c: column }, { c: numbers([1]) })).toThrow(/categorical in the reference, numeric/);
  });
});

describe('driftReportFromAggregates (baseline vs window)', () => {
  const training = Array.from({ length: 3000 }, (_, i) => 50 + 10 * Math.sin(i * 0.7) + (i % 13));
  const plans = Array.from({ length: 3000 }, (_, i) => ['basic', 'plus', 'pro'][i % 3] as string);
  const features: FeatureSpec[] = [
    { name: 'amount', type: 'number' },
    { name: 'plan', type: 'string', drift: { method: 'chisquare', threshold: 0.01 } },
  ];
  const amountBaseline = numericBaseline(training);
  const baseline: Baseline = {
    rows: 3000,
    features: { amount: amountBaseline, plan: categoricalBaseline(plans) },
    prediction: categoricalBaseline(plans.map((p) => (p === 'pro' ? 'yes' : 'no'))),
  };
  const windowOf = (amounts: readonly number[], planOf: (i: number) => string, predictionOf = (i: number) => (i % 3 === 2 ? 'yes' : 'no')) => {
    const window: WindowAggregate = emptyWindowAggregate(baseline);
    amounts.forEach((amount, i) => {
      addRow(window, baseline, { amount, plan: planOf(i) }, predictionOf(i));
    });
    return window;
  };

  it('traffic like training: no drift, with the manifest settings applied', () => {
    const window = windowOf(training.slice(0, 1500), (i) => plans[i] as string);
    const report = driftReportFromAggregates(baseline, window, { settings: driftSettings(features) });
    expect(report.features.amount).toMatchObject({ method: 'wasserstein', drifted: false, status: 'no-drift', outOfRange: 0 });
    expect(report.features.plan).toMatchObject({ method: 'chisquare', threshold: 0.01, drifted: false, unseenCategories: 0 });
    expect(report.prediction).toMatchObject({ method: 'jensenshannon', drifted: false });
    expect(report).toMatchObject({ driftShare: 0, datasetDrift: false });
  });

  it('shifted traffic: drift, out-of-range values and unseen categories counted; predictions apart from the share', () => {
    const shifted = training.slice(0, 1000).map((x) => x * 1.3);
    const window = windowOf(
      shifted,
      (i) => (i % 2 === 0 ? 'basic' : 'enterprise'),
      () => 'yes',
    );
    const report = driftReportFromAggregates(baseline, window);
    expect(report.features.amount).toMatchObject({ method: 'wasserstein', drifted: true });
    expect(report.features.amount!.outOfRange).toBeGreaterThan(0);
    expect(report.features.plan).toMatchObject({ method: 'jensenshannon', drifted: true, unseenCategories: 500, unseenExamples: ['enterprise'] });
    expect(report.prediction).toMatchObject({ drifted: true });
    expect(report).toMatchObject({ driftShare: 1, datasetDrift: true });
  });

  it('binned Wasserstein approximates the raw-sample value (the offline reference) to within a bin', () => {
    const current = training.slice(0, 1500).map((x) => x + 2);
    const binned = driftReportFromAggregates(
      baseline,
      windowOf(current, () => 'basic'),
    ).features.amount!.statistic!;
    const raw = wassersteinNormalised(training, current);
    const { edges, std } = amountBaseline;
    const widestBin = Math.max(...edges.slice(1).map((edge, i) => edge - (edges[i] as number)));
    expect(Math.abs(binned - raw)).toBeLessThan(widestBin / std);
    expect(binned).toBeGreaterThan(0.1);
  });

  it('reports only the features the window aggregates; a feature unknown to the baseline is an error', () => {
    const window = emptyWindowAggregate(baseline, ['plan']);
    expect(Object.keys(driftReportFromAggregates(baseline, window).features)).toEqual(['plan']);
    expect(() => driftReportFromAggregates({ ...baseline, features: {} }, window)).toThrow(/baseline has no such feature/);
  });
});

describe('minimum samples: no verdict on a handful of values', () => {
  it('chi-squared quantiles the distance minimums rest on (R: qchisq(0.95, df))', () => {
    expect(chiSquaredQuantileAbove(0.05, 1)).toBeCloseTo(3.841459, 6);
    expect(chiSquaredQuantileAbove(0.05, 2)).toBeCloseTo(5.991465, 6);
    expect(chiSquaredQuantileAbove(0.05, 9)).toBeCloseTo(16.918978, 6);
    expect(chiSquaredQuantileAbove(0.001, 1)).toBeCloseTo(10.827566, 5);
  });

  it.each([
    // method, reference values, reference categories, threshold, minimum (worked out in docs/drift.md)
    ['ks', 5000, 0, 0.05, 30],
    ['chisquare', 5000, 3, 0.05, 30],
    ['chisquare', 5000, 10, 0.05, 50],
    ['jensenshannon', 1e12, 10, 0.1, 212], // 16.919 / (8 x 0.01) = 211.5
    ['jensenshannon', 5634, 3, 0.1, 76], // 5.9915 / 0.08 = 74.9 effective; 74.9 x 5634 / (5634 - 74.9) = 75.9
    ['jensenshannon', 1e12, 2, 0.1, 49], // 3.8415 / 0.08 = 48.0
    ['psi', 1e12, 10, 0.1, 170], // 16.919 / 0.1 = 169.2
    ['psi', 1e12, 2, 0.25, MIN_DRIFT_VALUES], // 3.84 / 0.25 = 15.4: the floor of 30 holds
    ['wasserstein', 1e12, 0, 0.1, 463], // (2.15 / 0.1)^2 = 462.25
    ['wasserstein', 5634, 0, 0.1, 504],
    ['jensenshannon', 200, 10, 0.1, null], // a reference of 200 is below the 211.5 effective values needed
  ] as const)('%s, reference %d values in %d categories, threshold %d: %s', (method, reference, categoriesCount, threshold, minimum) => {
    expect(minimumCurrentValues(method, reference, categoriesCount, threshold)).toBe(minimum);
  });

  const plans = Array.from({ length: 3000 }, (_, i) => ['basic', 'plus', 'pro'][i % 3] as string);
  const baseline: Baseline = { rows: 3000, features: { plan: categoricalBaseline(plans) } };
  const windowOf = (n: number) => {
    const window = emptyWindowAggregate(baseline);
    for (let i = 0; i < n; i++) addRow(window, baseline, { plan: 'basic' }, null);
    return window;
  };

  it('online, at the boundary: one value short of the minimum is no verdict, the minimum gets one', () => {
    const minimum = minimumCurrentValues('jensenshannon', 3000, 3, 0.1) as number;
    expect(minimum).toBe(77);
    const short = driftReportFromAggregates(baseline, windowOf(minimum - 1));
    // Every value in one category: the statistic is far above the threshold, and still no verdict.
    expect(short.features.plan!.statistic).toBeGreaterThan(0.5);
    expect(short.features.plan).toMatchObject({ method: 'jensenshannon', status: 'not-enough-data', drifted: false, minimum, current: { values: minimum - 1 } });
    expect(short).toMatchObject({ assessed: 0, driftShare: 0, status: 'not-enough-data', datasetDrift: false });
    const enough = driftReportFromAggregates(baseline, windowOf(minimum));
    expect(enough.features.plan).toMatchObject({ status: 'drift', drifted: true, current: { values: minimum } });
    expect(enough).toMatchObject({ assessed: 1, driftShare: 1, status: 'drift', datasetDrift: true });
  });

  it('offline, at the boundary: KS on 29 values is no verdict, on 30 it is one', () => {
    const reference = numbers(Array.from({ length: 500 }, (_, i) => i / 5));
    const shiftedBy = (n: number) => numbers(Array.from({ length: n }, (_, i) => 200 + i));
    const short = driftReport({ x: reference }, { x: shiftedBy(MIN_DRIFT_VALUES - 1) }).features.x!;
    expect(short).toMatchObject({ method: 'ks', status: 'not-enough-data', drifted: false, minimum: 30 });
    expect(short.pValue).toBeLessThan(1e-6);
    expect(driftReport({ x: reference }, { x: shiftedBy(MIN_DRIFT_VALUES) }).features.x).toMatchObject({ status: 'drift', drifted: true });
  });

  it('the dataset needs a verdict on at least half of its features; the share is over those', () => {
    const enough = categories([40, 40]);
    const shifted = categories([75, 5]);
    const few = categories([5, 5]);
    const half = driftReport({ a: enough, b: enough, c: enough, d: enough }, { a: shifted, b: enough, c: few, d: few });
    expect(half).toMatchObject({ assessed: 2, driftShare: 0.5, status: 'drift', datasetDrift: true });
    const third = driftReport({ a: enough, b: enough, c: enough }, { a: shifted, b: few, c: few });
    expect(third).toMatchObject({ assessed: 1, driftShare: 1, status: 'not-enough-data', datasetDrift: false });
  });
});
