// Bayesian engine: a Gaussian model of the lift (GrowthBook's), so chance to win and risk have closed forms.
import { normalCdf, normalPdf, normalQuantile } from '../stats/distributions';
import { EXPERIMENT_DEFAULTS } from './defaults';
import { estimateEffect, type LiftScale } from './effect';
import { armMoments, assertComparable, ExperimentDataError, type ArmStats } from './sufficient-statistics';

/** A normal prior on the lift, on the same scale as the lift (relative or absolute). */
export interface GaussianPrior {
  readonly mean: number;
  readonly variance: number;
}

export interface BayesianOptions {
  /** @default 'relative' */
  readonly scale?: LiftScale;
  /** The credible interval holds 1 - alpha of the posterior. @default 0.05 */
  readonly alpha?: number;
  /** Omitted: the improper flat prior, so the posterior is centred on the observed lift. */
  readonly prior?: GaussianPrior;
}

export interface BayesianResult {
  readonly engine: 'bayesian';
  readonly scale: LiftScale;
  /** Posterior mean of the lift. */
  readonly lift: number;
  /** Equal-tailed credible interval. */
  readonly ci: readonly [number, number];
  /** Posterior probability that the lift is above zero. */
  readonly chanceToWin: number;
  /** Expected loss, in lift units, of keeping control (lift forgone) and of shipping treatment. */
  readonly risk: { readonly control: number; readonly treatment: number };
  /** Posterior standard deviation of the lift. */
  readonly standardError: number;
}

export function bayesianTest(control: ArmStats, treatment: ArmStats, { scale = 'relative', alpha = EXPERIMENT_DEFAULTS.alpha, prior }: BayesianOptions = {}): BayesianResult {
  assertComparable(control, treatment);
  const observed = estimateEffect(armMoments(control), armMoments(treatment), scale);
  const posterior = prior ? combineWithPrior(observed.variance, observed.lift, prior) : observed;
  const sd = Math.sqrt(posterior.variance);
  const z = normalQuantile(1 - alpha / 2);
  const mean = posterior.lift;
  // E[max(lift, 0)] for a normal lift; E[max(-lift, 0)] is that minus the mean.
  const gainForgone = mean * normalCdf(mean / sd) + sd * normalPdf(mean / sd);
  return {
    engine: 'bayesian',
    scale,
    lift: mean,
    ci: [mean - z * sd, mean + z * sd],
    chanceToWin: normalCdf(mean / sd),
    risk: { control: gainForgone, treatment: gainForgone - mean },
    standardError: sd,
  };
}

/** Conjugate normal update: precisions add, means average weighted by precision. */
function combineWithPrior(variance: number, lift: number, prior: GaussianPrior): { lift: number; variance: number } {
  if (!(prior.variance > 0) || !Number.isFinite(prior.mean)) {
    throw new ExperimentDataError([{ field: 'prior', reason: `needs a finite mean and a variance > 0, got N(${prior.mean}, ${prior.variance})` }]);
  }
  const precision = 1 / variance + 1 / prior.variance;
  return { lift: (lift / variance + prior.mean / prior.variance) / precision, variance: 1 / precision };
}
