import { describe, expect, it } from 'vitest';
import { evaluateMetricMath, type TimeSeries } from '../../local/metric-math';

const t = [0, 60_000, 120_000];
const series = new Map<string, TimeSeries>([
  ['errors', new Map([[60_000, 3]])],
  [
    'requests',
    new Map([
      [0, 100],
      [60_000, 50],
      [120_000, 0],
    ]),
  ],
]);
const run = (expression: string) => [...evaluateMetricMath(expression, series, t).entries()];

describe('evaluateMetricMath', () => {
  const cases: [string, [number, number][]][] = [
    ['errors / requests', [[60_000, 0.06]]], // only where both have data
    [
      'FILL(errors, 0) / requests',
      [
        [0, 0],
        [60_000, 0.06],
      ],
    ], // division by zero drops the datapoint
    [
      '100 * FILL(errors, 0) / requests',
      [
        [0, 0],
        [60_000, 6],
      ],
    ],
    [
      'requests - 2 * (1 + 1)',
      [
        [0, 96],
        [60_000, 46],
        [120_000, -4],
      ],
    ],
    [
      '-requests + 100',
      [
        [0, 0],
        [60_000, 50],
        [120_000, 100],
      ],
    ],
    ['ABS(errors - 10)', [[60_000, 7]]],
    [
      'fill(errors, 1)',
      [
        [0, 1],
        [60_000, 3],
        [120_000, 1],
      ],
    ],
    [
      '42',
      [
        [0, 42],
        [60_000, 42],
        [120_000, 42],
      ],
    ],
  ];
  for (const [expression, expected] of cases) {
    it(`${expression}`, () => expect(run(expression)).toEqual(expected));
  }

  it('refuses what it does not know, naming it', () => {
    expect(() => run('ANOMALY_DETECTION_BAND(errors, 2)')).toThrow(/ANOMALY_DETECTION_BAND\(2 arguments\) is not supported locally/);
    expect(() => run('errors / nope')).toThrow(/no query with id "nope"/);
    expect(() => run('errors +')).toThrow(/ends too early/);
    expect(() => run('errors $ 2')).toThrow(/cannot read metric math/);
    expect(() => run('(errors')).toThrow(/expected "\)"/);
  });
});
