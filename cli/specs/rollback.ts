import { defineCommand, type CommandInput } from '../command';
import { checkTarget, jsonOption, targetOptions, targetUsage } from '../target-options';
import { UsageError } from '../usage-error';

export const rollbackOptions = { to: { type: 'string' }, ...jsonOption, ...targetOptions } as const;

export const rollbackSpec = defineCommand({
  name: 'rollback',
  summary: 'Remove a challenger, or return all traffic to an earlier version',
  usage: `usage: modelgate rollback <name> [--to <version>] [--json] [target options]

Without --to: a challenger (canary, experiment, shadow) leaves traffic and the live version keeps serving;
with no challenger, the live version is rolled back to the most recently retired one. With --to: that
version (retired or rolled back) takes all traffic.

Exit codes: 0 done, 1 the pipeline could not roll back (e.g. nothing to roll back to; the reason is
printed), 2 bad usage, an unknown model or version, or an unreachable target.

${targetUsage}`,
  options: rollbackOptions,
  positionals: true,
  preflight: (input) => {
    rollbackArguments(input);
    checkTarget(input.values);
  },
  load: () => import('../commands/operate').then((m) => m.runRollback),
});

/** The model a rollback names, and the version to return to; a version given as a second argument gets the --to hint. */
export function rollbackArguments({ values, positionals }: CommandInput<typeof rollbackOptions>): { model: string; to?: string } {
  const [model, ...extra] = positionals;
  if (model === undefined) throw new UsageError('rollback takes a model name', 'e.g. `modelgate rollback churn`, or `modelgate rollback churn --to 1`');
  if (extra.length === 1 && values.to === undefined) {
    throw new UsageError(`rollback takes one model name; "${extra[0]}" looks like a version`, `to roll back to it: \`modelgate rollback ${model} --to ${extra[0]}\``);
  }
  if (extra.length > 0) throw new UsageError(`rollback takes one model name, got: ${positionals.join(' ')}`, `e.g. \`modelgate rollback ${model}\``);
  return { model, ...(values.to !== undefined ? { to: values.to } : {}) };
}
