import { EXPERIMENT_DEFAULTS } from '../../lambdas/core/experiments/defaults';
import { defineCommand } from '../command';
import { jsonOption } from '../target-options';

export const abtestOptions = {
  control: { type: 'string' },
  treatment: { type: 'string' },
  engine: { type: 'string' },
  absolute: { type: 'boolean' },
  alpha: { type: 'string' },
  'sequential-tuning': { type: 'string' },
  'prior-mean': { type: 'string' },
  'prior-variance': { type: 'string' },
  srm: { type: 'string' },
  weights: { type: 'string' },
  ...jsonOption,
} as const;

export const abtestSpec = defineCommand({
  name: 'abtest',
  summary: 'A/B test calculator: lift, interval, p-value or chance to win, sample ratio check',
  usage: `usage: modelgate abtest --control <arm> --treatment <arm> [options]
       modelgate abtest --srm <counts> [--weights <weights>] [--json]

Analyses an A/B experiment from per-arm sufficient statistics, offline.

  --control <json>          control arm, a mean metric '{"n":3407,"sum":1396.87,"sumSquares":52377.9767}'
                            or a proportion '{"n":28,"conversions":14}'
  --treatment <json>        treatment arm, the same kind of metric as control
  --engine <name>           frequentist (fixed horizon, default) | sequential (read at any time) | bayesian
  --absolute                lift as treatment - control (default: relative, (treatment - control) / control)
  --alpha <p>               significance level, default ${EXPERIMENT_DEFAULTS.alpha} (95% intervals)
  --sequential-tuning <N*>  sequential: total units (both arms) where the interval is tightest,
                            default ${EXPERIMENT_DEFAULTS.sequentialTuning}
  --prior-mean <m>          bayesian: normal prior on the lift, with --prior-variance (default: flat prior)
  --prior-variance <v>
  --srm <counts>            units per arm for the sample ratio check, e.g. 1000,1200 (default with arms: their n)
  --weights <weights>       configured traffic weights summing to 1, e.g. 0.5,0.5 (default: equal)
  --json                    print {"lift", "ci", "pValue" | "chanceToWin", "srm"} as JSON

A sample ratio check runs when --srm or --weights is given; p < ${EXPERIMENT_DEFAULTS.srmThreshold} flags a mismatch.
Exit codes: 0 analysed (whatever the result), 2 bad input.`,
  options: abtestOptions,
  positionals: false,
  load: () => import('../commands/abtest').then((m) => m.runAbtest),
});
