// Seeded simulations of whole experiments: the error rates the engines promise, checked by brute force.
// Arms are simulated as sufficient statistics per batch of units, not as rows, so 1000 experiments are fast.
import { beforeAll, describe, expect, it } from 'vitest';
import { fixedHorizonTest, sequentialTest } from '../../lambdas/core/experiments/frequentist';
import { requiredSampleSizePerArm } from '../../lambdas/core/experiments/sample-size';
import type { MeanMetricStats } from '../../lambdas/core/experiments/sufficient-statistics';
import { mulberry32 as seededRandom } from '../../lambdas/core/random';

const EXPERIMENTS = 1000;
const ALPHA = 0.05;

class Sampler {
  private readonly uniform: () => number;
  constructor(seed: number) {
    this.uniform = seededRandom(seed);
  }

  /** Standard normal, Box-Muller. */
  normal(): number {
    return Math.sqrt(-2 * Math.log(1 - this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** Gamma(shape, 1) for shape >= 1, Marsaglia-Tsang. */
  gamma(shape: number): number {
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = this.normal();
      const v = (1 + c * x) ** 3;
      if (v <= 0) continue;
      const u = this.uniform();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  }

  /** Binomial(n, p) as a sum of Bernoulli draws: exact, and fast enough for a few thousand units. */
  binomial(n: number, p: number): number {
    let successes = 0;
    for (let i = 0; i < n; i++) if (this.uniform() < p) successes++;
    return successes;
  }

  /**
   * Sufficient statistics of `n` draws from N(mean, sd^2), without drawing them: the sample mean is
   * N(mean, sd^2 / n) and, independently, the sum of squared deviations is sd^2 times chi-squared(n - 1).
   */
  normalBatch(n: number, mean: number, sd: number): MeanMetricStats {
    const sampleMean = mean + (sd / Math.sqrt(n)) * this.normal();
    const squaredDeviations = sd * sd * 2 * this.gamma((n - 1) / 2);
    return { n, sum: n * sampleMean, sumSquares: squaredDeviations + n * sampleMean * sampleMean };
  }
}

function merge(a: MeanMetricStats, b: MeanMetricStats): MeanMetricStats {
  return { n: a.n + b.n, sum: a.sum + b.sum, sumSquares: a.sumSquares + b.sumSquares };
}

function share(hits: number): number {
  return hits / EXPERIMENTS;
}

describe('A/A experiments: false positives of the fixed-horizon test', () => {
  it('mean metric, 1000 units per arm: false positive rate within [0.03, 0.07]', () => {
    const sampler = new Sampler(1);
    let falsePositives = 0;
    for (let e = 0; e < EXPERIMENTS; e++) {
      const control = sampler.normalBatch(1000, 10, 4);
      const treatment = sampler.normalBatch(1000, 10, 4);
      if (fixedHorizonTest(control, treatment).pValue < ALPHA) falsePositives++;
    }
    expect(share(falsePositives)).toBeGreaterThanOrEqual(0.03);
    expect(share(falsePositives)).toBeLessThanOrEqual(0.07);
  });

  it('proportion 10%, 2000 units per arm: false positive rate within [0.03, 0.07]', () => {
    const sampler = new Sampler(2);
    let falsePositives = 0;
    for (let e = 0; e < EXPERIMENTS; e++) {
      const control = { n: 2000, conversions: sampler.binomial(2000, 0.1) };
      const treatment = { n: 2000, conversions: sampler.binomial(2000, 0.1) };
      if (fixedHorizonTest(control, treatment).pValue < ALPHA) falsePositives++;
    }
    expect(share(falsePositives)).toBeGreaterThanOrEqual(0.03);
    expect(share(falsePositives)).toBeLessThanOrEqual(0.07);
  });
});

describe('A/A experiments read after every 100 units per arm (50 looks)', () => {
  const LOOKS = 50;
  const BATCH = 100;
  let sequentialFalsePositives = 0;
  let peekingFalsePositives = 0;

  beforeAll(() => {
    const sampler = new Sampler(3);
    for (let e = 0; e < EXPERIMENTS; e++) {
      let control = sampler.normalBatch(BATCH, 10, 4);
      let treatment = sampler.normalBatch(BATCH, 10, 4);
      let sequentialStopped = false;
      let peekingStopped = false;
      for (let look = 1; look <= LOOKS && !(sequentialStopped && peekingStopped); look++) {
        if (look > 1) {
          control = merge(control, sampler.normalBatch(BATCH, 10, 4));
          treatment = merge(treatment, sampler.normalBatch(BATCH, 10, 4));
        }
        sequentialStopped ||= sequentialTest(control, treatment).pValue < ALPHA;
        peekingStopped ||= fixedHorizonTest(control, treatment).pValue < ALPHA;
      }
      if (sequentialStopped) sequentialFalsePositives++;
      if (peekingStopped) peekingFalsePositives++;
    }
  });

  it('the confidence sequence keeps the false positive rate <= 0.065', () => {
    expect(share(sequentialFalsePositives)).toBeLessThanOrEqual(0.065);
  });

  it('naive peeking at the fixed-horizon test does not', () => {
    expect(share(peekingFalsePositives)).toBeGreaterThan(0.065);
  });
});

describe('power at the computed sample size, true effect = MDE', () => {
  const POWER = 0.8;

  // The sample size formula is for the difference of the means, so power is read on the absolute scale. The
  // relative (delta-method) test weighs control's variance by (1 + lift)^2 under the alternative and has
  // less power at large relative effects: about 0.76 here (see docs/experiments.md).
  it('proportion 10% -> 12% (relative MDE 20%): power within 0.05 of 0.8', () => {
    const n = requiredSampleSizePerArm({ kind: 'proportion', rate: 0.1 }, { relative: 0.2 }, { power: POWER });
    expect(n).toBe(3841);
    const sampler = new Sampler(4);
    let detected = 0;
    for (let e = 0; e < EXPERIMENTS; e++) {
      const control = { n, conversions: sampler.binomial(n, 0.1) };
      const treatment = { n, conversions: sampler.binomial(n, 0.12) };
      const result = fixedHorizonTest(control, treatment, { scale: 'absolute' });
      if (result.pValue < ALPHA && result.lift > 0) detected++;
    }
    expect(Math.abs(share(detected) - POWER)).toBeLessThanOrEqual(0.05);
  });

  it('mean metric, sd 4, absolute MDE 0.5: power within 0.05 of 0.8', () => {
    const n = requiredSampleSizePerArm({ kind: 'mean', mean: 10, standardDeviation: 4 }, { absolute: 0.5 });
    const sampler = new Sampler(5);
    let detected = 0;
    for (let e = 0; e < EXPERIMENTS; e++) {
      const control = sampler.normalBatch(n, 10, 4);
      const treatment = sampler.normalBatch(n, 10.5, 4);
      const result = fixedHorizonTest(control, treatment, { scale: 'absolute' });
      if (result.pValue < ALPHA && result.lift > 0) detected++;
    }
    expect(Math.abs(share(detected) - POWER)).toBeLessThanOrEqual(0.05);
  });
});
