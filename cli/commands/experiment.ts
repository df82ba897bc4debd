// `modelgate experiment start|status|stop|list`: A/B experiments between two versions of a model
// (docs/experiments.md). The implementation, and the SDK clients it needs, load only when it runs.
import type { Command } from '../command';
import { targetUsage } from '../target';

const usage = `usage: modelgate experiment <start|status|stop|list> ...

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
Exit codes: 0 done, 1 refused or failed (the reason is printed), 2 bad usage.

${targetUsage}`;

export const experimentCommand: Command = {
  name: 'experiment',
  summary: 'A/B experiments between two model versions: start, status (lift, CI, SRM, decision), stop (promote or roll back)',
  usage,
  async run(args) {
    const { runExperiment } = await import('../experiment-command');
    return runExperiment(args);
  },
};
