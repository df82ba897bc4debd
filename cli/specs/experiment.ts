import { defineCommand } from '../command';
import { checkTarget, jsonOption, targetOptions, targetUsage } from '../target-options';

/** The flags every sub-command takes. */
export const experimentOptions = { ...jsonOption, ...targetOptions } as const;

/** The flags of each sub-command. */
export const experimentSubcommands = {
  start: {
    options: {
      ...experimentOptions,
      model: { type: 'string' },
      control: { type: 'string' },
      treatment: { type: 'string' },
      metric: { type: 'string' },
      direction: { type: 'string' },
      mde: { type: 'string' },
      split: { type: 'string' },
      assignment: { type: 'string' },
      'max-days': { type: 'string' },
      baseline: { type: 'string' },
      guardrail: { type: 'string', multiple: true },
      secondary: { type: 'string', multiple: true },
      engine: { type: 'string' },
      'sequential-tuning': { type: 'string' },
      alpha: { type: 'string' },
      power: { type: 'string' },
      correction: { type: 'string' },
      hypothesis: { type: 'string' },
      id: { type: 'string' },
      'start-delay': { type: 'string' },
    },
    positionals: false,
  },
  status: { options: { ...experimentOptions, snapshot: { type: 'boolean' } }, positionals: true },
  stop: { options: { ...experimentOptions, ship: { type: 'boolean' }, 'keep-control': { type: 'boolean' } }, positionals: true },
  list: { options: experimentOptions, positionals: false },
} as const;

export const experimentSpec = defineCommand({
  name: 'experiment',
  summary: 'A/B experiments between two model versions: start, status (lift, CI, SRM, decision), stop (promote or roll back)',
  usage: `usage: modelgate experiment <start|status|stop|list> ...

  start  --model <name> --control <version> --treatment <version> --metric <metric>
         [--direction increase|decrease] [--mde 0.05] [--split 0.5] [--assignment request|unit]
         [--max-days 14] [--baseline <rate> | --baseline mean=<m>,standardDeviation=<sd>]
         [--guardrail <metric>]... [--secondary <metric>]... [--engine frequentist|sequential|bayesian]
         [--sequential-tuning <units>] [--alpha 0.05] [--power 0.8] [--correction holm|benjamini-hochberg]
         [--hypothesis <text>] [--id <id>] [--start-delay <seconds>] [--json]
  status <id> [--snapshot] [--json]        the current analysis; --snapshot keeps it (CIs over time)
  stop   <id> [--ship | --keep-control] [--json]
                                           concludes: promotes the treatment or rolls it back through the
                                           pipeline, as the analysis decided (or as --ship / --keep-control say)
  list   [--json]

A metric is <name>[:proportion|mean][:increase|decrease]: an outcome event name (POST /v1/events; a
proportion unless :mean) or a ground-truth metric (accuracy, logLoss, absoluteError, squaredError).
Request assignment needs the live alias to route the treatment at the experiment's split (roll it out with
the ab-test strategy); --split defaults to that weight. Unit assignment routes requests that carry a unit id
(x-modelgate-unit-id header or unitId field) by a hash of (experiment, unit).

Exit codes: 0 done; 1 refused or failed (the reason is printed: an experiment already running for the
model, a routing that cannot carry it, stop while the analysis says keep running, a pipeline execution that
failed); 2 bad usage, an unknown model, version or experiment id, or an unreachable target.

${targetUsage}`,
  options: experimentOptions,
  subcommands: experimentSubcommands,
  positionals: true,
  preflight: ({ values }) => checkTarget(values),
  load: () => import('../commands/experiment').then((m) => m.runExperiment),
});
