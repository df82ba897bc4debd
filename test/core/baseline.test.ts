import { describe, expect, it } from 'vitest';
import { binIndex, categoricalBaseline, featureBaseline, numericBaseline } from '../../lambdas/core/baseline';

describe('binIndex', () => {
  const edges = [0, 1, 2, 5];

  it.each([
    { value: -0.001, expected: -1 },
    { value: 0, expected: 0 },
    { value: 0.999, expected: 0 },
    { value: 1, expected: 1 },
    { value: 4.999, expected: 2 },
    // The last bin is closed: the maximum belongs to it.
    { value: 5, expected: 2 },
    { value: 5.001, expected: 3 },
    { value: -Infinity, expected: -1 },
    { value: Infinity, expected: 3 },
  ])('$value -> $expected', ({ value, expected }) => {
    expect(binIndex(edges, value)).toBe(expected);
  });

  it('finds the right bin among many edges', () => {
    const many = Array.from({ length: 101 }, (_, i) => i * 10);
    for (let value = 0; value < 1000; value += 3) expect(binIndex(many, value)).toBe(Math.floor(value / 10));
    expect(binIndex(many, 1000)).toBe(99);
  });

  it('has no bin for NaN', () => {
    expect(() => binIndex(edges, NaN)).toThrow(/missing/);
  });
});

describe('numericBaseline', () => {
  it('uses the deciles of 0..10 as edges and counts each value once', () => {
    const values = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const baseline = numericBaseline(values);
    expect(baseline.edges).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // [0,1) [1,2) ... [9,10]: the last bin holds 9 and 10.
    expect(baseline.counts).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 2]);
    expect(baseline).toMatchObject({ underflow: 0, overflow: 0, missing: 0, count: 11, mean: 5, min: 0, max: 10 });
    // Population std of 0..10: sqrt(110 / 11) = sqrt(10).
    expect(baseline.std).toBeCloseTo(Math.sqrt(10), 12);
  });

  it('interpolates quantiles linearly, like numpy', () => {
    // numpy.quantile([1, 2, 3, 4], [0, .25, .5, .75, 1]) = [1, 1.75, 2.5, 3.25, 4]
    const baseline = numericBaseline([4, 1, 3, 2], 4);
    expect(baseline.edges).toEqual([1, 1.75, 2.5, 3.25, 4]);
    expect(baseline.counts).toEqual([1, 1, 1, 1]);
  });

  it('merges equal quantiles, so heavy ties give fewer bins', () => {
    const values = [...Array<number>(8).fill(0), 1, 2];
    const baseline = numericBaseline(values);
    // Decile positions 0.9 i: 0..6.3 fall in the zeros, 7.2 -> 0.2, 8.1 -> 1.1, 9 -> 2.
    expect(baseline.edges).toHaveLength(4);
    [0, 0.2, 1.1, 2].forEach((edge, i) => {
      expect(baseline.edges[i]).toBeCloseTo(edge, 12);
    });
    expect(baseline.counts).toEqual([8, 1, 1]);
    expect(baseline.counts.reduce((a, b) => a + b, 0)).toBe(10);
  });

  it('counts null, undefined and NaN as missing, still part of count', () => {
    const baseline = numericBaseline([1, null, 2, undefined, NaN, 3]);
    expect(baseline).toMatchObject({ missing: 3, count: 6, mean: 2, min: 1, max: 3 });
    expect(baseline.counts.reduce((a, b) => a + b, 0) + baseline.missing).toBe(baseline.count);
  });

  it('gives a constant column one tight bin holding every value', () => {
    const baseline = numericBaseline([7, 7, 7]);
    expect(baseline.edges).toHaveLength(2);
    expect(baseline.edges[0]).toBe(7);
    expect(baseline.edges[1]).toBeGreaterThan(7);
    expect(baseline.edges[1]).toBeLessThan(7 + 1e-12);
    expect(baseline.counts).toEqual([3]);
    expect(baseline.std).toBe(0);
  });

  it('rejects a column with no value and infinite values', () => {
    expect(() => numericBaseline([null, NaN])).toThrow(/at least one value/);
    expect(() => numericBaseline([1, Infinity])).toThrow(/finite/);
  });
});

describe('categoricalBaseline', () => {
  it('counts values by their string form, with missing rows apart', () => {
    expect(categoricalBaseline(['b', 'a', null, 'b', undefined])).toEqual({
      kind: 'categorical',
      counts: { a: 1, b: 2 },
      missing: 2,
      count: 5,
    });
  });

  it('lists every declared category, unseen ones with 0', () => {
    expect(categoricalBaseline([1, 1, 0], [0, 1, 2]).counts).toEqual({ '0': 1, '1': 2, '2': 0 });
  });
});

describe('featureBaseline', () => {
  it.each([
    { feature: { name: 'plan', type: 'string' as const }, values: ['x', 'y'], kind: 'categorical' },
    { feature: { name: 'flag', type: 'boolean' as const }, values: [true, false], kind: 'categorical' },
    { feature: { name: 'senior', type: 'integer' as const, categories: [0, 1] }, values: [0, 1], kind: 'categorical' },
    { feature: { name: 'tenure', type: 'integer' as const }, values: [0, 1], kind: 'numeric' },
    { feature: { name: 'charges', type: 'number' as const }, values: [0.5, 1.5], kind: 'numeric' },
  ])('$feature.name ($feature.type) is $kind', ({ feature, values, kind }) => {
    expect(featureBaseline(feature, values).kind).toBe(kind);
  });

  it('rejects a string value in a numeric feature', () => {
    expect(() => featureBaseline({ name: 'tenure', type: 'integer' }, [1, 'two'])).toThrow(/tenure.*"two".*row 1/);
  });
});
