// The views a person looks at drift through (dashboard, `drift --html`), from two files' columns.
import { describe, expect, it } from 'vitest';
import { columnDriftViews } from '../../lambdas/core/drift/feature-view';
import { driftReport, type Column } from '../../lambdas/core/drift/report';

const numbers = (values: (number | null)[]): Column => ({ kind: 'numeric', values });
const categories = (values: (string | null)[]): Column => ({ kind: 'categorical', values });

describe('columnDriftViews', () => {
  const reference = {
    age: numbers(Array.from({ length: 100 }, (_, i) => i)),
    plan: categories([...new Array<string>(60).fill('basic'), ...new Array<string>(40).fill('pro')]),
    empty: numbers(new Array<null>(100).fill(null)),
  };
  const current = {
    age: numbers(Array.from({ length: 100 }, (_, i) => 50 + i)),
    plan: categories([...new Array<string>(50).fill('basic'), ...new Array<string>(30).fill('pro'), ...new Array<string>(20).fill('gold')]),
    empty: numbers([1, 2, ...new Array<null>(98).fill(null)]),
  };
  const report = driftReport(reference, current);
  const views = columnDriftViews(report, reference, current);
  const view = (name: string) => views.features.find((v) => v.name === name)!;

  it('bins the current values on the reference quantiles: half of them above its range', () => {
    const bins = view('age').distribution.bins;
    expect(bins.map((b) => b.reference).reduce((a, b) => a + b)).toBeCloseTo(1, 12);
    expect(bins.at(-1)).toMatchObject({ label: '> 99', reference: 0, current: 0.5 });
    expect(view('age')).toMatchObject({ status: report.features.age!.status, statistic: report.features.age!.statistic, values: 100 });
  });

  it('shows a category the reference never had beside the known ones', () => {
    expect(view('plan').distribution.bins).toEqual([
      { label: 'basic', reference: 0.6, current: 0.5 },
      { label: 'pro', reference: 0.4, current: 0.3 },
      { label: 'gold', reference: 0, current: 0.2 },
    ]);
  });

  it('a reference column with no values has no chart, and keeps its verdict', () => {
    expect(view('empty').distribution).toEqual({ kind: 'numeric', bins: [], referenceValues: 0, currentValues: 2 });
    expect(view('empty').status).toBe('not-enough-data');
  });

  it('orders the drifted first, and has no prediction', () => {
    expect(views.features[0]?.status).toBe('drift');
    expect(views.prediction).toBeNull();
  });
});
