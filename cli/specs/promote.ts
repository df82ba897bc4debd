import { defineCommand, type CommandInput } from '../command';
import { checkTarget, jsonOption, targetOptions, targetUsage } from '../target-options';
import { UsageError } from '../usage-error';

export const promoteOptions = { ...jsonOption, ...targetOptions } as const;

export const promoteSpec = defineCommand({
  name: 'promote',
  summary: 'Give all traffic to a registered version (a canary, experiment, shadow or earlier version)',
  usage: `usage: modelgate promote <name> <version> [--json] [target options]

The version takes all traffic of the model's live alias; the live version is retired, another challenger
retired (a canary rolled back). A rollout baking at the time yields at its next alarm check.

Exit codes: 0 done, 1 the pipeline could not promote it (the reason is printed, e.g. a version never
published), 2 bad usage, an unknown model or version (the registered ones are named), or an unreachable
target.

${targetUsage}`,
  options: promoteOptions,
  positionals: true,
  preflight: (input) => {
    promoteArguments(input);
    checkTarget(input.values);
  },
  load: () => import('../commands/operate').then((m) => m.runPromote),
});

/** The model and version a promotion names. */
export function promoteArguments({ positionals }: CommandInput<typeof promoteOptions>): { model: string; version: string } {
  const [model, version, ...extra] = positionals;
  if (model === undefined || version === undefined || extra.length > 0) throw new UsageError('promote takes a model name and a version', 'e.g. `modelgate promote churn 2`');
  return { model, version };
}
