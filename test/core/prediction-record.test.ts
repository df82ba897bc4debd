import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import type { Manifest } from '../../lambdas/core/manifest';
import {
  buildPredictionRecords,
  fallbackLine,
  FALLBACK_MARKER,
  parseFallbackRecords,
  shardOf,
  type PredictionRecord,
  type ServedBatch,
} from '../../lambdas/core/prediction-record';
import type { Row } from '../../lambdas/core/request';
import { mulberry32 as seeded } from '../../lambdas/core/random';

const manifest = (logging?: Manifest['logging']): Manifest => ({
  schemaVersion: '1',
  name: 'churn',
  version: '7',
  task: 'binary-classification',
  features: [
    { name: 'age', type: 'number' },
    { name: 'email', type: 'string' },
    { name: 'ssn', type: 'string' },
  ],
  inputs: [
    { name: 'age', dtype: 'float32', features: ['age'] },
    { name: 'email', dtype: 'string', features: ['email'] },
    { name: 'ssn', dtype: 'string', features: ['ssn'] },
  ],
  outputs: { probabilities: 'p' },
  classLabels: [0, 1],
  model: { file: 'model.onnx', sha256: '0'.repeat(64) },
  ...(logging ? { logging } : {}),
});

const answeredAt = new Date('2024-03-01T12:34:56.789Z');

function batch(n: number, overrides: Partial<ServedBatch> = {}): ServedBatch {
  return {
    manifest: manifest(),
    rows: Array.from({ length: n }, (_, i): Row => ({ age: 20 + i, email: `u${i}@example.com`, ssn: '123-45-6789' })),
    predictions: Array.from({ length: n }, (_, i) => ({ label: i % 2, probabilities: { 0: 0.4, 1: 0.6 } })),
    predictionIds: Array.from({ length: n }, (_, i) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`),
    variant: '7',
    answeredAt,
    latencyMs: 12.5,
    requestId: 'req-1',
    random: () => {
      throw new Error('random() must not be called when every input is kept');
    },
    ...overrides,
  };
}

const settings = { ttlDays: 90, shards: 4 };

describe('buildPredictionRecords', () => {
  it('builds one record per row with the known keys and fields', () => {
    const [first, second] = buildPredictionRecords(batch(2), settings);
    expect(first).toEqual({
      predictionId: '00000000-0000-4000-8000-000000000000',
      model: 'churn',
      version: '7',
      variant: '7',
      timestamp: '2024-03-01T12:34:56.789Z',
      modelVersionShard: 'churn#7#0',
      ts: '2024-03-01T12:34:56.789Z#00000000-0000-4000-8000-000000000000',
      inputs: { age: 20, email: 'u0@example.com', ssn: '123-45-6789' },
      outputs: { label: 0, probabilities: { 0: 0.4, 1: 0.6 } },
      latencyMs: 12.5,
      batchRows: 2,
      requestId: 'req-1',
      expiresAt: Math.floor(answeredAt.getTime() / 1000) + 90 * 86_400,
    });
    expect(second?.modelVersionShard).toBe('churn#7#1');
    expect(second?.outputs.label).toBe(1);
  });

  it('logs the pass-through values whatever the sampling, and the join key only when the row sent it', () => {
    const withIds = { ...manifest({ inputSampleRate: 0 }), passThrough: [{ name: 'customerID', joinKey: true }, { name: 'campaign' }] };
    const records = buildPredictionRecords(
      batch(3, { manifest: withIds, random: () => 0.5, passThrough: [{ customerID: 'c-1', campaign: 'x' }, { campaign: 'y' }, undefined] }),
      settings,
    );
    expect(records.map((r) => [r.passThrough, r.joinKey, r.inputs])).toEqual([
      [{ customerID: 'c-1', campaign: 'x' }, 'churn#customerID#c-1', undefined],
      [{ campaign: 'y' }, undefined, undefined],
      [undefined, undefined, undefined],
    ]);
    expect(records[2]).not.toHaveProperty('joinKey');
    expect(records[2]).not.toHaveProperty('passThrough');
  });

  it('leaves requestId out when there is none', () => {
    const { requestId: _, ...withoutRequest } = batch(1);
    expect(buildPredictionRecords(withoutRequest, settings)[0]).not.toHaveProperty('requestId');
  });

  it.each([
    { at: '2024-03-01T00:00:00.000Z', ttlDays: 90, expiresAt: 1709251200 + 7_776_000 },
    { at: '2024-03-01T00:00:00.999Z', ttlDays: 90, expiresAt: 1709251200 + 7_776_000 },
    { at: '2024-03-01T00:00:00.000Z', ttlDays: 1, expiresAt: 1709251200 + 86_400 },
    { at: '2024-03-01T00:00:00.000Z', ttlDays: 0.5, expiresAt: 1709251200 + 43_200 },
  ])('expiresAt = answeredAt ($at, in whole seconds) + $ttlDays days', ({ at, ttlDays, expiresAt }) => {
    const [record] = buildPredictionRecords(batch(1, { answeredAt: new Date(at) }), { ttlDays, shards: 4 });
    expect(record?.expiresAt).toBe(expiresAt);
    expect(Number.isInteger(record?.expiresAt)).toBe(true);
  });

  it('writes timestamp as ISO-8601 UTC and ts as <timestamp>#<predictionId>', () => {
    const records = buildPredictionRecords(batch(3), settings);
    for (const record of records) {
      expect(record.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(record.ts).toBe(`${record.timestamp}#${record.predictionId}`);
    }
    // Lexical order of ts is time order.
    const later = buildPredictionRecords(batch(1, { answeredAt: new Date(answeredAt.getTime() + 1) }), settings)[0] as PredictionRecord;
    expect(later.ts > (records[2] as PredictionRecord).ts).toBe(true);
  });

  it('spreads random ids over every shard, each key <model>#<version>#<shard in [0, shards)>', () => {
    const n = 1000;
    const records = buildPredictionRecords(batch(n, { predictionIds: Array.from({ length: n }, () => randomUUID()) }), { ttlDays: 1, shards: 8 });
    const shards = records.map((r) => {
      const match = /^churn#7#(\d+)$/.exec(r.modelVersionShard);
      expect(match, r.modelVersionShard).not.toBeNull();
      return Number(match?.[1]);
    });
    expect(Math.min(...shards)).toBe(0);
    expect(Math.max(...shards)).toBe(7);
    expect(new Set(shards).size).toBe(8);
  });

  describe('input sampling', () => {
    it('keeps about half of the inputs at rate 0.5 (1000 rows, seeded)', () => {
      const records = buildPredictionRecords(batch(1000, { manifest: manifest({ inputSampleRate: 0.5 }), random: seeded(42) }), settings);
      const sampled = records.filter((r) => r.inputs !== undefined).length;
      expect(sampled).toBeGreaterThanOrEqual(450);
      expect(sampled).toBeLessThanOrEqual(550);
      // Outputs are always stored.
      expect(records.every((r) => r.outputs.probabilities !== undefined)).toBe(true);
    });

    it.each([
      { rate: 0.1, seed: 1 },
      { rate: 0.9, seed: 2 },
    ])('keeps about $rate of the inputs (seed $seed)', ({ rate, seed }) => {
      const records = buildPredictionRecords(batch(1000, { manifest: manifest({ inputSampleRate: rate }), random: seeded(seed) }), settings);
      const sampled = records.filter((r) => r.inputs !== undefined).length;
      expect(Math.abs(sampled - rate * 1000)).toBeLessThanOrEqual(50);
    });

    it('keeps a row exactly when random() < rate', () => {
      const draws = [0.1, 0.5, 0.49, 0.9];
      let i = 0;
      const records = buildPredictionRecords(batch(4, { manifest: manifest({ inputSampleRate: 0.5 }), random: () => draws[i++] as number }), settings);
      expect(records.map((r) => r.inputs !== undefined)).toEqual([true, false, true, false]);
    });

    it('keeps no inputs at rate 0', () => {
      const records = buildPredictionRecords(batch(100, { manifest: manifest({ inputSampleRate: 0 }), random: seeded(3) }), settings);
      expect(records.filter((r) => 'inputs' in r)).toHaveLength(0);
    });

    it.each([{ rate: 1 }, { rate: undefined }])('keeps every input without drawing at rate $rate', ({ rate }) => {
      const random = vi.fn(() => 0.99);
      const records = buildPredictionRecords(batch(10, { manifest: manifest(rate === undefined ? undefined : { inputSampleRate: rate }), random }), settings);
      expect(records.every((r) => r.inputs !== undefined)).toBe(true);
      expect(random).not.toHaveBeenCalled();
    });
  });

  it('removes redacted features from the stored inputs, not from the rows', () => {
    const served = batch(2, { manifest: manifest({ redact: ['email', 'ssn'] }) });
    const records = buildPredictionRecords(served, settings);
    expect(records.map((r) => r.inputs)).toEqual([{ age: 20 }, { age: 21 }]);
    expect(served.rows[0]).toEqual({ age: 20, email: 'u0@example.com', ssn: '123-45-6789' });
  });
});

describe('shardOf', () => {
  it.each([
    { id: '00000000-0000-4000-8000-000000000000', shards: 4, shard: 0 },
    { id: '00000000-0000-4000-8000-00000000000a', shards: 4, shard: 2 },
    { id: '00000000-0000-4000-8000-00000000ffff', shards: 4, shard: 3 },
    { id: '00000000-0000-4000-8000-00000000ffff', shards: 10, shard: 65535 % 10 },
    { id: 'ABCDEF00-0000-4000-8000-0000000012AB', shards: 16, shard: 0xb },
    { id: '00000000-0000-4000-8000-000000001234', shards: 1, shard: 0 },
  ])('$id over $shards shards -> $shard', ({ id, shards, shard }) => {
    expect(shardOf(id, shards)).toBe(shard);
  });

  it('is stable for one id', () => {
    const id = randomUUID();
    expect(shardOf(id, 8)).toBe(shardOf(id, 8));
  });
});

describe('fallback lines', () => {
  const [record, sampledOut] = buildPredictionRecords(
    batch(2, {
      manifest: manifest({ inputSampleRate: 0.5, redact: ['ssn'] }),
      random: (
        (draws) => () =>
          draws.shift() as number
      )([0.1, 0.9]),
    }),
    settings,
  ) as [PredictionRecord, PredictionRecord];

  it('is one JSON line carrying the marker, the reason and the record', () => {
    const line = fallbackLine(record, 'ProvisionedThroughputExceededException');
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({ [FALLBACK_MARKER]: true, reason: 'ProvisionedThroughputExceededException', record });
  });

  it('round-trips through parseFallbackRecords', () => {
    const text = [fallbackLine(record, 'throttled'), fallbackLine(sampledOut, 'throttled')].join('\n');
    expect(parseFallbackRecords(text)).toEqual([record, sampledOut]);
    expect(parseFallbackRecords(text)[1]).not.toHaveProperty('inputs');
  });

  it('reads a CloudWatch Logs export (timestamp, request id and level before the JSON) and skips everything else', () => {
    const text = [
      'START RequestId: 5b1c Version: 7',
      `2024-03-01T12:34:56.800Z\t5b1c4b1e-1111-4222-8333-444455556666\tWARN\t${fallbackLine(record, 'table unavailable')}`,
      '{"level":"WARN","message":"prediction log fell back","records":2}',
      '',
      'not json at all',
      `2024-03-01T12:34:56.801Z\t5b1c\tWARN\t${fallbackLine(sampledOut, 'table unavailable').slice(0, 60)}`,
      `2024-03-01T12:34:56.802Z\t5b1c\tWARN\t{"${FALLBACK_MARKER}":true,"reason":"x","record":{"model":"churn"}}`,
      `${fallbackLine(sampledOut, 'table unavailable')}\r`,
      'END RequestId: 5b1c',
    ].join('\n');
    expect(parseFallbackRecords(text)).toEqual([record, sampledOut]);
  });

  it('finds nothing in an empty text', () => {
    expect(parseFallbackRecords('')).toEqual([]);
  });
});
