import { defineCommand, type CommandInput } from '../command';
import { checkTarget, jsonOption, targetOptions, targetUsage } from '../target-options';
import { UsageError } from '../usage-error';

export const modelsOptions = { ...jsonOption, ...targetOptions } as const;

export const modelsSpec = defineCommand({
  name: 'models',
  summary: 'Show the registered versions of a model: status, weight, reason, metrics',
  usage: `usage: modelgate models <name> [--json] [target options]

Lists the registered versions of a model, newest first: status, share of live traffic, the reason of the
last transition that had one (rejections, rollbacks), holdout metrics. --json prints an array of
{"version", "status", "reason", "reasons", "metrics", "weight", "shadow", "lambdaVersion", ...}.

Exit codes: 0 listed, 2 bad usage, an unknown model (the registered ones are named), or an unreachable
target.

${targetUsage}`,
  options: modelsOptions,
  positionals: true,
  preflight: (input) => {
    modelArgument(input);
    checkTarget(input.values);
  },
  load: () => import('../commands/models').then((m) => m.runModels),
});

/** The one model `models` shows. */
export function modelArgument({ positionals }: CommandInput<typeof modelsOptions>): string {
  const [name, ...extra] = positionals;
  if (name === undefined || extra.length > 0) throw new UsageError('models takes one model name', 'e.g. `modelgate models churn`');
  return name;
}
