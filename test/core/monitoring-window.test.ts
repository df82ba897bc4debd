// Folding the prediction table's stream into windows: exactly once per change under retries, late labels in
// the prediction's window, and merged windows equal to one window over everything.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addRow, emptyWindowAggregate } from '../../lambdas/core/drift/aggregate';
import { parseManifestJson } from '../../lambdas/core/manifest';
import {
  compareSequenceNumbers,
  emptyWindow,
  foldChanges,
  mergeMonitoringWindows,
  predictionValue,
  slidingWindow,
  windowKeyOf,
  windowStartOf,
  type LoggedRecord,
  type StreamChange,
} from '../../lambdas/core/monitoring/window';
import { qualityMetrics } from '../../lambdas/core/monitoring/quality';

const manifest = parseManifestJson(readFileSync(new URL('../../examples/churn/v1/manifest.json', import.meta.url), 'utf8'));

function record(i: number, timestamp: string, actual?: string): LoggedRecord {
  const p = (i % 10) / 10;
  return {
    predictionId: `id-${i}`,
    model: 'churn',
    version: '1',
    variant: '1',
    timestamp,
    modelVersionShard: 'churn#1#0',
    ts: `${timestamp}#id-${i}`,
    inputs: { Contract: i % 3 === 0 ? 'Two year' : 'Month-to-month', tenure: i % 72, MonthlyCharges: 20 + (i % 100) },
    outputs: { label: p >= 0.5 ? 'Yes' : 'No', probabilities: { No: 1 - p, Yes: p } },
    latencyMs: 1,
    batchRows: 1,
    expiresAt: 0,
    ...(actual === undefined ? {} : { actual }),
  };
}

let sequence = 100;
const change = (eventName: StreamChange['eventName'], image: LoggedRecord, shardId = 'shard-a'): StreamChange => ({
  eventName,
  shardId,
  sequenceNumber: String(sequence++).padStart(21, '0'),
  image,
});

describe('windows', () => {
  it('align on the epoch', () => {
    expect(windowStartOf('2026-11-26T21:17:59.999Z')).toBe('2026-11-26T21:15:00.000Z');
    expect(windowStartOf('2026-11-26T21:20:00.000Z', 60)).toBe('2026-11-26T21:00:00.000Z');
  });

  it("take a change into the window of the prediction's own time, even a label days later", () => {
    const late = change('MODIFY', { ...record(1, '2026-11-20T10:03:00.000Z', 'Yes'), labeledAt: '2026-11-26T21:00:00.000Z' });
    expect(windowKeyOf(late)).toEqual({ model: 'churn', version: '1', windowStart: '2026-11-20T10:00:00.000Z' });
    expect(windowKeyOf({ eventName: 'REMOVE', shardId: 's', sequenceNumber: '1' })).toBeUndefined();
  });

  it('compare sequence numbers as numbers, beyond 2^53', () => {
    expect(compareSequenceNumbers('900000000000000000001', '900000000000000000002')).toBe(-1);
    expect(compareSequenceNumbers('10', '9')).toBe(1);
  });
});

describe('foldChanges', () => {
  const at = '2026-11-26T21:01:00.000Z';

  it('counts inserts into drift and labels into quality, and a retried batch not at all', () => {
    const window = emptyWindow(manifest, windowStartOf(at));
    const inserts = Array.from({ length: 20 }, (_, i) => change('INSERT', record(i, at)));
    const labels = Array.from({ length: 8 }, (_, i) => change('MODIFY', record(i, at, i % 2 === 0 ? 'Yes' : 'No')));
    expect(foldChanges(window, [...inserts, ...labels], manifest)).toBe(28);
    const once = structuredClone(window);
    // Lambda retries the same batch; a bisected half is a subset of it: nothing counts twice.
    expect(foldChanges(window, [...inserts, ...labels], manifest)).toBe(0);
    expect(foldChanges(window, labels.slice(0, 4), manifest)).toBe(0);
    expect(window).toEqual(once);
    expect(window.predictions).toBe(20);
    expect(window.labels).toBe(8);
    expect(qualityMetrics(window.quality).labelled).toBe(8);
    const contract = window.drift?.features.Contract;
    expect(contract?.count).toBe(20);
  });

  it("keeps marks per shard: another shard's lower sequence numbers still count", () => {
    const window = emptyWindow(manifest, windowStartOf(at));
    foldChanges(window, [{ ...change('INSERT', record(1, at), 'shard-a'), sequenceNumber: '500' }], manifest);
    expect(foldChanges(window, [{ ...change('INSERT', record(2, at), 'shard-b'), sequenceNumber: '200' }], manifest)).toBe(1);
    expect(window.applied).toEqual({ 'shard-a': '500', 'shard-b': '200' });
  });

  it('skips a record the baseline cannot take instead of failing the batch, and counts it', () => {
    const window = emptyWindow(manifest, windowStartOf(at));
    const bad = { ...record(5, at), inputs: { ...record(5, at).inputs, MonthlyCharges: 'lots' } } as unknown as LoggedRecord;
    expect(foldChanges(window, [change('INSERT', bad), change('INSERT', record(6, at))], manifest)).toBe(1);
    expect(window.skipped).toBe(1);
    expect(window.predictions).toBe(1);
    expect(window.drift?.features.MonthlyCharges?.count).toBe(1);
  });

  it('counts the output alone when the inputs were not sampled', () => {
    const window = emptyWindow(manifest, windowStartOf(at));
    const { inputs: _, ...unsampled } = record(3, at);
    foldChanges(window, [change('INSERT', unsampled as LoggedRecord)], manifest);
    expect(window.drift?.prediction?.count).toBe(1);
    expect(window.drift?.features.Contract?.count).toBe(0);
  });

  it('merged windows equal one aggregate over every row', () => {
    const rows = Array.from({ length: 60 }, (_, i) => record(i, new Date(Date.parse(at) + i * 20_000).toISOString()));
    const windows = new Map<string, ReturnType<typeof emptyWindow>>();
    for (const row of rows) {
      const start = windowStartOf(row.timestamp);
      const window = windows.get(start) ?? emptyWindow(manifest, start);
      foldChanges(window, [change('INSERT', row)], manifest);
      windows.set(start, window);
    }
    expect(windows.size).toBeGreaterThan(1);
    const merged = mergeMonitoringWindows(manifest, [...windows.values()]);
    const whole = emptyWindowAggregate(manifest.baseline!, Object.keys(manifest.baseline!.features));
    for (const row of rows) addRow(whole, manifest.baseline!, row.inputs!, predictionValue(manifest, row.outputs));
    // Sums of squares add up in another order: equal to rounding.
    const rounded = (value: unknown) => JSON.parse(JSON.stringify(value, (_, x) => (typeof x === 'number' ? Number(x.toPrecision(12)) : x)));
    expect(rounded(merged.drift)).toEqual(rounded(whole));
    expect(merged.predictions).toBe(60);
  });
});

describe('slidingWindow', () => {
  it('is the newest whole windows covering the minutes, the window in progress included', () => {
    const at = Date.parse('2026-01-15T10:07:30.000Z');
    expect(slidingWindow(at, 60)).toEqual({ from: '2026-01-15T09:10:00.000Z', count: 12 });
    expect(slidingWindow(at, 10)).toEqual({ from: '2026-01-15T10:00:00.000Z', count: 2 });
    expect(slidingWindow(at, 7)).toEqual({ from: '2026-01-15T10:00:00.000Z', count: 2 });
    expect(slidingWindow(at, 1)).toEqual({ from: '2026-01-15T10:05:00.000Z', count: 1 });
  });

  it('counts scaled minutes: at time scale 60, an hour of 5-minute windows is a minute of 5-second ones', () => {
    expect(slidingWindow(Date.parse('2026-01-15T10:07:31.500Z'), 60, 5, 1000)).toEqual({ from: '2026-01-15T10:06:35.000Z', count: 12 });
  });
});
