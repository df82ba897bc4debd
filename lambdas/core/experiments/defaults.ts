/** Defaults of experiment analysis and planning; every function that takes one of these defaults to it. */
export const EXPERIMENT_DEFAULTS = {
  /** Two-sided significance level; also sets the width of every interval (95%). */
  alpha: 0.05,
  /** Probability of detecting a true effect of the minimum detectable effect. */
  power: 0.8,
  /** N*, the total sample size (both arms) at which the confidence sequence is tightest (GrowthBook's default). */
  sequentialTuning: 5000,
  /** A sample ratio check with a p-value below this marks the experiment invalid. */
  srmThreshold: 0.001,
  /** Bayesian: chance to beat control needed to call a win (and 1 minus it to call a loss). */
  chanceToWinThreshold: 0.95,
} as const;
