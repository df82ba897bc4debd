import { defineCommand, oneModel } from '../command';
import { checkTarget, jsonOption, targetOptions, targetUsage } from '../target-options';

export const modelsOptions = { ...jsonOption, ...targetOptions } as const;

export const modelsSpec = defineCommand({
  name: 'models',
  summary: 'List the models, or show the registered versions of one: status, weight, reason, metrics',
  usage: `usage: modelgate models [<name>] [--json] [target options]

Without a name, lists every registered model: the versions serving it, the newest version's status, the
memory of the serving version's function and its cost per million predictions. --json prints an array of
{"model", "live", "newest", "retired", "memoryMb", "costPerMillion"}.

With a name, lists the registered versions of that model, newest first: status, share of live traffic, the
reason of the last transition that had one (rejections, rollbacks), holdout metrics. --json prints an array of
{"version", "status", "reason", "reasons", "metrics", "weight", "shadow", "lambdaVersion", ...}.

Exit codes: 0 listed, 2 bad usage, an unknown model (the registered ones are named), or an unreachable
target.

${targetUsage}`,
  options: modelsOptions,
  positionals: true,
  preflight: ({ values, positionals }) => {
    if (positionals.length > 0) oneModel('models', positionals, 'modelgate models churn');
    checkTarget(values);
  },
  load: () => import('../commands/models').then((m) => m.runModels),
});
