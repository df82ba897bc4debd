import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalMetricStore, percentileOf, type Statistic } from '../../local/metrics-store';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 26, 12, 0); // a period boundary for every period that divides an hour
const dims = { service: 'predict', model: 'churn', version: '1' };
const dir = mkdtempSync(join(tmpdir(), 'modelgate-metrics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function emf(timestamp: number, metrics: Record<string, number | number[]>, dimensions: Record<string, string> = dims): string {
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [{ Namespace: 'modelgate', Dimensions: [Object.keys(dimensions)], Metrics: Object.keys(metrics).map((Name) => ({ Name, Unit: 'Milliseconds' })) }],
    },
    ...dimensions,
    ...metrics,
  });
}

function store(now = T0 + 10 * MINUTE, options: ConstructorParameters<typeof LocalMetricStore>[0] = {}) {
  return new LocalMetricStore({ now: () => now, ...options });
}

const query = (s: LocalMetricStore, statistic: Statistic, period = 60, start = T0, end = T0 + 10 * MINUTE, dimensions: Record<string, string> = dims) =>
  s.query({ namespace: 'modelgate', metricName: 'Latency', dimensions, statistic, period, start, end });

describe('LocalMetricStore statistics', () => {
  // 1..100 in one minute: the known answers of nearest-rank percentiles.
  const s = store();
  s.ingestLine(emf(T0 + 1000, { Latency: Array.from({ length: 50 }, (_, i) => i + 1) }));
  s.ingestLine(emf(T0 + 2000, { Latency: Array.from({ length: 50 }, (_, i) => i + 51) }));
  const cases: [Statistic, number][] = [
    ['Sum', 5050],
    ['SampleCount', 100],
    ['Average', 50.5],
    ['Minimum', 1],
    ['Maximum', 100],
    ['p50', 50],
    ['p90', 90],
    ['p99', 99],
    ['p99.5', 100],
    ['p100', 100],
    ['p0.5', 1],
  ];
  for (const [statistic, expected] of cases) {
    it(`${statistic} of 1..100 is ${expected}`, () => {
      expect(query(s, statistic)).toEqual([{ timestamp: T0, value: expected, sampleCount: 100, unit: 'Milliseconds' }]);
    });
  }

  it('nearest rank on a small sample: p50 of [10, 20, 30, 40] is 20, p99 is 40', () => {
    const small = store();
    small.ingestLine(emf(T0, { Latency: [40, 10, 30, 20] }));
    expect(query(small, 'p50')[0]?.value).toBe(20);
    expect(query(small, 'p99')[0]?.value).toBe(40);
  });

  it('aggregates minutes into longer periods counted from the start, leaving out periods without data', () => {
    const t = store(T0 + 30 * MINUTE);
    for (const [minute, value] of [
      [0, 1],
      [1, 2],
      [4, 3],
      [12, 4],
    ] as const)
      t.ingestLine(emf(T0 + minute * MINUTE + 5000, { Latency: value }));
    expect(query(t, 'Sum', 300, T0, T0 + 30 * MINUTE).map((p) => [(p.timestamp - T0) / MINUTE, p.value])).toEqual([
      [0, 6],
      [10, 4],
    ]);
    // As CloudWatch: the start is rounded down to the minute and periods count from it; the end is exclusive.
    expect(query(t, 'Sum', 300, T0 + 2 * MINUTE + 30_000, T0 + 13 * MINUTE).map((p) => [(p.timestamp - T0) / MINUTE, p.value])).toEqual([
      [2, 3],
      [12, 4],
    ]);
    expect(query(t, 'Maximum', 60, T0, T0 + 30 * MINUTE).map((p) => p.value)).toEqual([1, 2, 3, 4]);
  });

  it('keeps scaled minutes under a time scale: at 60, a minute lasts a second and a 5-minute period five', () => {
    const second = 1000;
    const t = store(T0 + 30 * second, { minuteMs: second });
    for (const [at, value] of [
      [0, 1],
      [1_500, 2],
      [4_999, 3],
      [5_000, 4],
      [12_000, 5],
    ] as const)
      t.ingestLine(emf(T0 + at, { Latency: value }));
    expect(query(t, 'Sum', 300, T0, T0 + 30 * second).map((p) => [(p.timestamp - T0) / second, p.value])).toEqual([
      [0, 6],
      [5, 4],
      [10, 5],
    ]);
    expect(query(t, 'SampleCount', 60, T0, T0 + 30 * second).map((p) => [(p.timestamp - T0) / second, p.value])).toEqual([
      [0, 1],
      [1, 1],
      [4, 1],
      [5, 1],
      [12, 1],
    ]);
  });

  it('matches the dimension set exactly, as CloudWatch does', () => {
    const t = store();
    t.ingestLine(emf(T0, { Latency: 7 }));
    t.ingestLine(emf(T0, { Latency: 9 }, { ...dims, errorKind: 'ValidationError' }));
    expect(query(t, 'Sum').map((p) => p.value)).toEqual([7]);
    expect(query(t, 'Sum', 60, T0, T0 + MINUTE, { model: 'churn' })).toEqual([]);
    expect(query(t, 'Sum', 60, T0, T0 + MINUTE, { ...dims, errorKind: 'ValidationError' }).map((p) => p.value)).toEqual([9]);
    expect(t.listMetrics({ namespace: 'modelgate', dimensions: { model: 'churn' } })).toHaveLength(2);
  });

  it('answers percentiles from the histogram within 0.5% once a minute holds more raw values than it keeps', () => {
    const t = store(T0 + 10 * MINUTE, { rawValuesPerMinute: 10 });
    const values = Array.from({ length: 1000 }, (_, i) => 0.5 + ((i * 7919) % 1000) / 10); // 0.5 .. 100.4, shuffled
    for (let i = 0; i < values.length; i += 100) t.ingestLine(emf(T0 + i, { Latency: values.slice(i, i + 100) }));
    const sorted = [...values].sort((a, b) => a - b);
    for (const p of [50, 90, 99]) {
      const exact = sorted[Math.ceil((p / 100) * sorted.length) - 1] as number;
      const approx = query(t, `p${p}`)[0]?.value as number;
      expect(Math.abs(approx - exact) / exact).toBeLessThanOrEqual(0.005);
    }
    expect(query(t, 'p100')[0]?.value).toBe(100.4); // clamped to the exact maximum
    expect(query(t, 'Average')[0]?.value).toBeCloseTo(sorted.reduce((a, b) => a + b) / 1000, 9);
  });

  it('handles zeros and negative values in the histogram', () => {
    const t = store(T0 + 10 * MINUTE, { rawValuesPerMinute: 1 });
    t.ingestLine(emf(T0, { Latency: [-10, -10, 0, 0, 0, 5, 5, 5, 5, 5] }));
    expect(query(t, 'p10')[0]?.value).toBeCloseTo(-10, 1);
    expect(query(t, 'p50')[0]?.value).toBe(0);
    expect(query(t, 'p90')[0]?.value).toBeCloseTo(5, 1);
  });

  it('refuses periods it cannot answer and unknown statistics', () => {
    expect(() => query(s, 'Sum', 30)).toThrow(/multiple of 60/);
    expect(() => query(s, 'tm99' as Statistic)).toThrow(/unsupported statistic/);
    expect(percentileOf('p99.9')).toBe(99.9);
    expect(percentileOf('p101')).toBeUndefined();
  });
});

describe('LocalMetricStore retention and snapshots', () => {
  it('keeps 24 hours: older datapoints are dropped on ingest and pruned as time passes', () => {
    let now = T0;
    const t = new LocalMetricStore({ now: () => now });
    t.ingestLine(emf(T0 - 25 * 60 * MINUTE, { Latency: 1 }));
    t.ingestLine(emf(T0, { Latency: 2 }));
    expect(query(t, 'SampleCount', 60, T0 - 26 * 60 * MINUTE, T0 + MINUTE).map((p) => p.value)).toEqual([1]);
    now = T0 + 24 * 60 * MINUTE + MINUTE;
    t.ingestLine(emf(now, { Latency: 3 }));
    expect(query(t, 'Sum', 60, T0, now + MINUTE).map((p) => p.value)).toEqual([3]);
  });

  it('keeps 24 scaled hours under a time scale, and does not read a snapshot kept at another scale', () => {
    const second = 1000;
    let now = T0;
    const file = join(dir, 'scaled.json');
    const t = new LocalMetricStore({ now: () => now, minuteMs: second, snapshotFile: file });
    t.ingestLine(emf(T0 - 25 * 60 * second, { Latency: 1 }));
    t.ingestLine(emf(T0 - 23 * 60 * second, { Latency: 2 }));
    expect(query(t, 'Sum', 60, T0 - 26 * 60 * second, T0 + second).map((p) => p.value)).toEqual([2]);
    t.close();
    now = T0 + second;
    expect(query(new LocalMetricStore({ now: () => now, minuteMs: second, snapshotFile: file }), 'Sum', 60, T0 - 26 * 60 * second, T0 + second)).toHaveLength(1);
    expect(query(new LocalMetricStore({ now: () => now, snapshotFile: file }), 'Sum', 60, T0 - 26 * 60 * MINUTE, T0 + second)).toEqual([]);
  });

  it('restores a snapshot: same answers after a restart, raw values and histograms included', () => {
    const file = join(dir, 'snapshot.json');
    const first = store(T0 + 10 * MINUTE, { snapshotFile: file, rawValuesPerMinute: 3 });
    first.ingestLine(emf(T0, { Latency: [1, 2, 3] }));
    first.ingestLine(emf(T0 + MINUTE, { Latency: [1, 2, 3, 4, 5] }));
    first.close();
    const second = store(T0 + 10 * MINUTE, { snapshotFile: file, rawValuesPerMinute: 3 });
    for (const statistic of ['Sum', 'SampleCount', 'p50', 'p99', 'Maximum'] as const) {
      expect(query(second, statistic), statistic).toEqual(query(first, statistic));
    }
  });
});
