import { describe, expect, it } from 'vitest';
import { batchJobCost, predictionCost, PRICES } from '../../lambdas/core/cost';

describe('predictionCost', () => {
  it('prices one single-row prediction line by line (docs/cost.md)', () => {
    // 256 MB is 14.5% of a vCPU: a 2 ms model takes 13.8 ms there, plus 6 ms of serving: 20 ms billed.
    const cost = predictionCost({ memoryMb: 256, inferenceMs: 2 });
    expect(cost.billedMs).toBe(20);
    expect(cost.lambdaRequests).toBe(0.2);
    expect(cost.lambdaCompute).toBeCloseTo(0.25 * 0.02 * 1e6 * PRICES.lambdaPerGbSecond, 4);
    // A 1 KB item written to the table and to the byModelVersion index: 2 write units.
    expect(cost.predictionLog).toBe(1.25);
    // 600 bytes of metrics and 550 of access log per request, at $0.50 per GB.
    expect(cost.logs).toBe(0.575);
    // 1% of requests traced at $5 per million traces.
    expect(cost.traces).toBe(0.05);
    expect(cost.total).toBeCloseTo(0.2 + cost.lambdaCompute + 1.25 + 0.575 + 0.05, 3);
  });

  it('charges every started KB of the log item in the table and again in each index', () => {
    expect(predictionCost({ memoryMb: 256, inferenceMs: 2, logItemBytes: 2049, indexWrites: 2 }).predictionLog).toBe(3 * 3 * PRICES.dynamoDbPerMillionWriteUnits);
  });

  it('bills compute at the memory given: more memory, more CPU, fewer milliseconds', () => {
    const small = predictionCost({ memoryMb: 128, inferenceMs: 10 });
    const full = predictionCost({ memoryMb: 1769, inferenceMs: 10 });
    expect(small.billedMs).toBe(Math.ceil(10 / (128 / 1769) + 6));
    expect(full.billedMs).toBe(16);
  });
});

describe('batchJobCost', () => {
  const job = { rows: 100_000_000, bytesPerRow: 140, chunkBytes: 4 * 1024 * 1024, secondsPerChunk: 0.55, scoringMemoryMb: 2048, maxConcurrency: 100 };

  it('prices a 100M-row job by chunk: one invocation, one Express child and one parent transition each (docs/batch.md)', () => {
    const cost = batchJobCost(job);
    // 4 MiB holds 29,959 rows of 140 bytes: 3,338 chunks.
    expect(cost.chunks).toBe(3338);
    expect(cost.lambdaRequests).toBeCloseTo((3338 / 1e6) * 0.2, 8);
    expect(cost.lambdaGbSeconds).toBeCloseTo(3338 * 2 * 0.55, 6);
    expect(cost.lambdaCompute).toBeCloseTo(3338 * 2 * 0.55 * PRICES.lambdaPerGbSecond, 8);
    expect(cost.stateTransitions).toBe(3338 + 3);
    expect(cost.standardTransitions).toBeCloseTo((3341 / 1e6) * 25, 8);
    expect(cost.expressRequests).toBeCloseTo(3338 / 1e6, 8);
    // 0.55 s billed as 0.6 s, at 64 MB.
    expect(cost.expressGbHours).toBeCloseTo((3338 * 0.0625 * 0.6) / 3600, 8);
    expect(cost.total).toBeCloseTo(cost.lambdaRequests + cost.lambdaCompute + cost.standardTransitions + cost.expressRequests + cost.expressDuration, 10);
    // 34 waves of 100 chunks.
    expect(cost.mapSeconds).toBeCloseTo(34 * 0.55, 8);
  });

  it('runs at most 10,000 children at once whatever MaxConcurrency says', () => {
    expect(batchJobCost({ ...job, maxConcurrency: 1000 }).mapSeconds).toBeCloseTo(4 * 0.55, 8);
    expect(batchJobCost({ ...job, rows: 1e9, maxConcurrency: 50_000 }).mapSeconds).toBeCloseTo(Math.ceil(33_380 / 10_000) * 0.55, 8);
  });
});
