import { describe, expect, it } from 'vitest';
import { categoricalBaseline, numericBaseline } from '../../lambdas/core/baseline';
import {
  addRow,
  addValue,
  type CategoricalAggregate,
  emptyAggregate,
  emptyWindowAggregate,
  type FeatureAggregate,
  MAX_UNSEEN_CATEGORIES,
  merge,
  mergeWindows,
  type NumericAggregate,
} from '../../lambdas/core/drift/aggregate';
import type { Baseline, DistributionBaseline, FeatureValue } from '../../lambdas/core/manifest-types';

const numeric = numericBaseline(Array.from({ length: 100 }, (_, i) => i)); // edges 0, 9.9, ..., 99
const categorical = categoricalBaseline(['red', 'green', 'blue', 'green']);

function aggregateOf(baseline: DistributionBaseline, values: readonly (FeatureValue | null | undefined)[]): FeatureAggregate {
  const aggregate = emptyAggregate(baseline);
  for (const value of values) addValue(aggregate, baseline, value);
  return aggregate;
}

describe('NumericAggregate', () => {
  it('counts values into the baseline bins, with under/overflow, missing and sufficient sums', () => {
    const aggregate = aggregateOf(numeric, [-5, 0, 9.8, 9.9, 99, 100.5, null, undefined, Number.NaN]) as NumericAggregate;
    expect(aggregate.counts.length).toBe(numeric.counts.length);
    expect(aggregate.counts[0]).toBe(2); // 0 and 9.8 are in [0, 9.9)
    expect(aggregate.counts[1]).toBe(1); // 9.9 opens the second bin
    expect(aggregate.counts[aggregate.counts.length - 1]).toBe(1); // the last bin holds the last edge, 99
    expect(aggregate).toMatchObject({ underflow: 1, overflow: 1, missing: 3, count: 9, min: -5, max: 100.5 });
    expect(aggregate.sum).toBeCloseTo(-5 + 9.8 + 9.9 + 99 + 100.5, 12);
    expect(aggregate.sumSquares).toBeCloseTo(25 + 9.8 ** 2 + 9.9 ** 2 + 99 ** 2 + 100.5 ** 2, 9);
  });

  it('an empty aggregate has null extremes (JSON has no Infinity)', () => {
    expect(emptyAggregate(numeric)).toMatchObject({ count: 0, min: null, max: null, sum: 0 });
  });

  it('takes only finite numbers', () => {
    expect(() => aggregateOf(numeric, ['12'])).toThrow(TypeError);
    expect(() => aggregateOf(numeric, [Number.POSITIVE_INFINITY])).toThrow(RangeError);
    expect(() => addValue(emptyAggregate(numeric), categorical, 1)).toThrow(/numeric baseline/);
  });
});

describe('CategoricalAggregate', () => {
  it('counts every baseline category, unseen ones apart, and missing values', () => {
    const aggregate = aggregateOf(categorical, ['red', 'red', 'purple', null, 'green', 'purple']) as CategoricalAggregate;
    expect(aggregate.counts).toEqual({ blue: 0, green: 1, red: 2 });
    expect(aggregate.unseen).toEqual({ purple: 2 });
    expect(aggregate).toMatchObject({ otherUnseen: 0, missing: 1, count: 6 });
  });

  it('counts values as strings: true, 3 and "3" are the categories "true" and "3"', () => {
    const baseline = categoricalBaseline([true, 3, false]);
    const aggregate = aggregateOf(baseline, [true, '3', 3, false, 'yes']) as CategoricalAggregate;
    expect(aggregate.counts).toEqual({ '3': 2, false: 1, true: 1 });
    expect(aggregate.unseen).toEqual({ yes: 1 });
  });

  it('counts categories named like Object properties as any other', () => {
    const aggregate = aggregateOf(categorical, ['constructor', '__proto__', 'toString', 'constructor']) as CategoricalAggregate;
    expect(Object.entries(aggregate.unseen).sort()).toEqual([
      ['__proto__', 1],
      ['constructor', 2],
      ['toString', 1],
    ]);
    expect(JSON.parse(JSON.stringify(aggregate))).toEqual(aggregate);
  });

  it(`keeps at most ${MAX_UNSEEN_CATEGORIES} unseen categories by name, the smallest, and the total exactly`, () => {
    const values = Array.from({ length: 120 }, (_, i) => `u${String(119 - i).padStart(3, '0')}`);
    const aggregate = aggregateOf(categorical, [...values, 'u000']) as CategoricalAggregate;
    expect(Object.keys(aggregate.unseen)).toHaveLength(MAX_UNSEEN_CATEGORIES);
    expect(aggregate.unseen.u000).toBe(2);
    expect(aggregate.unseen.u049).toBe(1);
    expect(aggregate.unseen.u050).toBeUndefined();
    expect(aggregate.otherUnseen).toBe(70);
  });
});

describe('merge', () => {
  // Integer-valued data, so the sums are exact whatever the order of addition.
  const numericChunks = [
    [1, 5, 50, -3, null],
    [99, 120, 7, 7, 33],
    [64, undefined, 0, 98, 12, 12],
  ];
  const categoricalChunks = [
    ['red', 'x1', null, ...Array.from({ length: 40 }, (_, i) => `a${i}`)],
    ['green', 'x1', 'x2', ...Array.from({ length: 40 }, (_, i) => `b${i}`)],
    ['blue', 'blue', 'x3', ...Array.from({ length: 40 }, (_, i) => `a${i}`)],
  ];

  it.each([
    ['numeric', numeric, numericChunks],
    ['categorical', categorical, categoricalChunks],
  ] as const)('%s: associative, commutative, and equal to aggregating everything at once', (_, baseline, chunks) => {
    const [a, b, c] = chunks.map((chunk) => aggregateOf(baseline, chunk)) as [FeatureAggregate, FeatureAggregate, FeatureAggregate];
    const all = aggregateOf(baseline, chunks.flat());
    expect(merge(merge(a, b), c)).toEqual(all);
    expect(merge(a, merge(b, c))).toEqual(all);
    expect(merge(c, merge(b, a))).toEqual(all);
    expect(merge(b, a)).toEqual(merge(a, b));
    expect(merge(a, emptyAggregate(baseline))).toEqual(a);
  });

  it('does not change its arguments', () => {
    const a = aggregateOf(categorical, ['red', 'new']);
    const before = structuredClone(a);
    merge(a, aggregateOf(categorical, ['new', 'other']));
    expect(a).toEqual(before);
  });

  it('survives a JSON round trip (DynamoDB storage) and merges after it', () => {
    const a = aggregateOf(numeric, numericChunks[0]!);
    const stored = JSON.parse(JSON.stringify(a)) as FeatureAggregate;
    expect(stored).toEqual(a);
    expect(merge(stored, aggregateOf(numeric, numericChunks[1]!))).toEqual(aggregateOf(numeric, [...numericChunks[0]!, ...numericChunks[1]!]));
  });

  it('refuses aggregates of different kinds, bins or categories', () => {
    expect(() => merge(emptyAggregate(numeric), emptyAggregate(categorical))).toThrow(/numeric aggregate with a categorical/);
    expect(() => merge(emptyAggregate(numeric), emptyAggregate(numericBaseline([1, 2, 3], 2)))).toThrow(/different bins/);
    expect(() => merge(emptyAggregate(categorical), emptyAggregate(categoricalBaseline(['x'])))).toThrow(/different baseline categories/);
  });
});

describe('window aggregates', () => {
  const baseline: Baseline = {
    rows: 4,
    features: { age: numericBaseline([20, 30, 40, 50]), color: categorical },
    prediction: numericBaseline([0.1, 0.4, 0.6, 0.9]),
  };

  it('aggregate every feature and the prediction of each logged row, and merge like their parts', () => {
    const rows: [Record<string, FeatureValue | null>, number][] = [
      [{ age: 25, color: 'red' }, 0.2],
      [{ age: 61, color: 'pink' }, 0.8],
      [{ color: 'blue' }, 0.5],
    ];
    const whole = emptyWindowAggregate(baseline);
    rows.forEach(([features, prediction]) => {
      addRow(whole, baseline, features, prediction);
    });
    const first = addRow(emptyWindowAggregate(baseline), baseline, ...rows[0]!);
    const rest = emptyWindowAggregate(baseline);
    rows.slice(1).forEach(([features, prediction]) => {
      addRow(rest, baseline, features, prediction);
    });

    expect(mergeWindows(first, rest)).toEqual(whole);
    expect(whole.features.age).toMatchObject({ count: 3, missing: 1, overflow: 1 });
    expect(whole.features.color).toMatchObject({ count: 3, unseen: { pink: 1 } });
    expect(whole.prediction).toMatchObject({ count: 3, sum: 1.5 });
  });

  it('aggregate only the named features (e.g. not the redacted ones)', () => {
    const window = emptyWindowAggregate(baseline, ['color']);
    addRow(window, baseline, { age: 33, color: 'red' }, 0.3);
    expect(Object.keys(window.features)).toEqual(['color']);
    expect(() => emptyWindowAggregate(baseline, ['height'])).toThrow(/no feature "height"/);
  });
});
