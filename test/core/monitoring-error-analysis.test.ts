import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../lambdas/core/manifest-types';
import { errorAnalysis, sliceOf, wilson } from '../../lambdas/core/monitoring/error-analysis';
import type { LoggedRecord } from '../../lambdas/core/monitoring/window';

const churn = {
  name: 'churn',
  version: '1',
  task: 'binary-classification',
  classLabels: ['No', 'Yes'],
  threshold: 0.5,
  baseline: {
    rows: 10,
    features: { tenure: { kind: 'numeric', edges: [0, 12, 24, 72], counts: [3, 3, 4], underflow: 0, overflow: 0, missing: 0, count: 10, mean: 20, std: 10, min: 0, max: 72 } },
  },
} as unknown as Manifest;
const price = { name: 'price', version: '1', task: 'regression' } as unknown as Manifest;

function row(i: number, p: number, actual: string | number | undefined, inputs: Record<string, unknown>, value?: number): LoggedRecord {
  return {
    predictionId: `p${i}`,
    model: 'm',
    version: '1',
    variant: '1',
    timestamp: `2026-01-01T00:00:0${i}.000Z`,
    modelVersionShard: 'm#1#0',
    ts: '',
    inputs: inputs as LoggedRecord['inputs'],
    outputs: value === undefined ? { label: p >= 0.5 ? 'Yes' : 'No', probabilities: { No: 1 - p, Yes: p } } : { value },
    latencyMs: 1,
    batchRows: 1,
    expiresAt: 0,
    ...(actual === undefined ? {} : { actual }),
  };
}

describe('wilson', () => {
  it('gives the Wilson score interval (95%)', () => {
    const half = wilson(5, 10);
    expect(half.low).toBeCloseTo(0.2366, 4);
    expect(half.high).toBeCloseTo(0.7634, 4);
    expect(wilson(0, 10).low).toBe(0);
    expect(wilson(0, 10).high).toBeCloseTo(0.2775, 4);
    expect(wilson(0, 0)).toEqual({ low: 0, high: 1 });
  });
});

describe('errorAnalysis', () => {
  it('counts wrong labelled predictions, slices by baseline bins, most confidently wrong first', () => {
    const records = [
      row(1, 0.9, 'No', { tenure: 1 }),
      row(2, 0.6, 'No', { tenure: 5 }),
      row(3, 0.2, 'No', { tenure: 30 }),
      row(4, 0.1, 'Yes', { tenure: 72 }),
      row(5, 0.8, undefined, { tenure: 2 }),
      row(6, 0.7, 'Yes', {}),
    ];
    const analysis = errorAnalysis(churn, records, 'tenure');
    expect(analysis).toMatchObject({ labelled: 5, wrong: 3, errorRate: 0.6 });
    expect(analysis.wrongPredictions.map((w) => w.predictionId)).toEqual(['p1', 'p4', 'p2']);
    expect(analysis.slices.map((s) => [s.slice, s.count, s.wrong])).toEqual([
      ['[0, 12)', 2, 2],
      ['[24, 72]', 2, 1],
      ['(missing)', 1, 0],
    ]);
    expect(sliceOf(churn, 'tenure', 80)).toBe('> 72');
    expect(sliceOf(churn, 'Contract', 'One year')).toBe('One year');
  });

  it('regression: wrong beyond 10% of the actual, MAE per slice', () => {
    const records = [row(1, 0, 100, { city: 'a' }, 105), row(2, 0, 100, { city: 'a' }, 120), row(3, 0, 50, { city: 'b' }, 50)];
    const analysis = errorAnalysis(price, records, 'city');
    expect(analysis.wrong).toBe(1);
    expect(analysis.slices.find((s) => s.slice === 'a')).toMatchObject({ count: 2, wrong: 1, mae: 12.5 });
    expect(analysis.wrongPredictions[0]).toMatchObject({ predictionId: 'p2', score: 20 });
  });
});
