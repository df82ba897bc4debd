import { describe, expect, it } from 'vitest';
import { rightSizeMemory } from '../../lambdas/core/pipeline/provisioning';

// The memory the pipeline gives a model's function, and the reason `modelgate models` prints: measurements
// rounded as people read them, each budget with what it asks for, and what bound the choice.
describe('rightSizeMemory', () => {
  it.each([
    [
      'a small model: the footprint, rounded up to a 128 MB step, binds',
      { footprintMb: 0.25, initMs: 15.37, p99Ms: 2.764877, initBudgetMs: 10_000, latencyBudgetMs: 50 },
      256,
      '256 MB: 160 MB runtime + 0.3 MB model x 1.5; init 15 ms fits its 10000 ms budget from 128 MB; p99 2.8 ms fits its 50 ms budget from 128 MB; bound by the model footprint',
    ],
    [
      'a large model: 160 + 400 x 1.5 = 760 MB, rounded up to 768 MB',
      { footprintMb: 400, initMs: 900, p99Ms: 4, initBudgetMs: 10_000, latencyBudgetMs: 50 },
      768,
      '768 MB: 160 MB runtime + 400 MB model x 1.5; init 900 ms fits its 10000 ms budget from 256 MB; p99 4 ms fits its 50 ms budget from 256 MB; bound by the model footprint',
    ],
    [
      'a slow model: its p99 at 1769 x 20 / 50 = 708 MB, rounded up to 768 MB',
      { footprintMb: 10, p99Ms: 20, latencyBudgetMs: 50 },
      768,
      '768 MB: 160 MB runtime + 10 MB model x 1.5; p99 20 ms fits its 50 ms budget from 768 MB; bound by the p99 latency budget',
    ],
    ['no timing measured: the footprint alone', { footprintMb: 1 }, 256, '256 MB: 160 MB runtime + 1 MB model x 1.5; bound by the model footprint'],
  ])('%s', (_case, evidence, memoryMb, reason) => {
    expect(rightSizeMemory(evidence)).toEqual({ memoryMb, reason });
  });

  it('says so when a budget cannot be met even on a full vCPU', () => {
    expect(rightSizeMemory({ footprintMb: 1, p99Ms: 80, latencyBudgetMs: 50 }).reason).toContain('p99 80 ms is over its 50 ms budget even on a full vCPU');
  });
});
