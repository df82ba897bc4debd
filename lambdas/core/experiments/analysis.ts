// One entry for reading a metric of an experiment with any engine: what the CLI and the handlers call.
import { bayesianTest, type BayesianResult, type GaussianPrior } from './bayesian';
import type { LiftScale } from './effect';
import { fixedHorizonTest, sequentialTest, type FrequentistResult } from './frequentist';
import type { ArmStats } from './sufficient-statistics';

/**
 * `frequentist`: fixed horizon, valid when read once at the planned sample size.
 * `sequential`: always-valid confidence sequence, may be read at any time.
 * `bayesian`: Gaussian posterior of the lift, chance to beat control.
 */
export type Engine = 'frequentist' | 'sequential' | 'bayesian';

export const ENGINES: readonly Engine[] = ['frequentist', 'sequential', 'bayesian'];

export interface AnalysisOptions {
  /** @default 'frequentist' */
  readonly engine?: Engine;
  /** @default 'relative' */
  readonly scale?: LiftScale;
  /** @default 0.05 */
  readonly alpha?: number;
  /** Sequential engine only. @default 5000 */
  readonly sequentialTuning?: number;
  /** Bayesian engine only. @default the improper flat prior */
  readonly prior?: GaussianPrior;
}

export type AnalysisResult = FrequentistResult | BayesianResult;

export function analyzeMetric(control: ArmStats, treatment: ArmStats, options: AnalysisOptions = {}): AnalysisResult {
  const { engine = 'frequentist', scale, alpha, sequentialTuning, prior } = options;
  switch (engine) {
    case 'frequentist':
      return fixedHorizonTest(control, treatment, { scale, alpha });
    case 'sequential':
      return sequentialTest(control, treatment, { scale, alpha, tuning: sequentialTuning });
    case 'bayesian':
      return bayesianTest(control, treatment, { scale, alpha, prior });
  }
}
