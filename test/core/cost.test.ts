import { describe, expect, it } from 'vitest';
import { predictionCost, PRICES } from '../../lambdas/core/cost';

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
