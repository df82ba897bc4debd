import { defineCommand, oneModel } from '../command';
import { checkTarget, jsonOption, targetOptions, targetUsage } from '../target-options';

export const retireOptions = { ...jsonOption, ...targetOptions } as const;

export const retireSpec = defineCommand({
  name: 'retire',
  summary: "Remove a model's serving (its stack, routes and alarms); keep its registry history and logs",
  usage: `usage: modelgate retire <name> [--json] [target options]

The promotion pipeline takes the model's lock (a baking rollout yields), withdraws its routes from the API
(requests answer 404 from then on), deletes its CloudFormation stack (the inference function and alias) and
every alarm of its versions. Its registered versions, their history, the prediction log and the function's
log group stay. Pushing a version of the model again creates a new stack.

Exit codes: 0 retired, 1 the pipeline could not retire it (the reason is printed), 2 bad usage, an unknown
model or an unreachable target.

${targetUsage}`,
  options: retireOptions,
  positionals: true,
  preflight: (input) => {
    oneModel('retire', input.positionals, 'modelgate retire fraud');
    checkTarget(input.values);
  },
  load: () => import('../commands/operate').then((m) => m.runRetire),
});
