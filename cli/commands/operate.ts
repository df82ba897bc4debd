// `modelgate promote <name> <version>`, `modelgate rollback <name> [--to <version>]` and `modelgate retire
// <name>`: operator requests, run by the promotion state machine under the model's lock (a baking rollout
// yields at its next check).
import type { CommandInput, CommandRun } from '../command';
import { followExecution, startOperation, stepFunctionsClient } from '../pipeline-client';
import { registryOf, requireRegistered } from '../registry';
import { promoteArguments, type promoteOptions } from '../specs/promote';
import type { retireOptions } from '../specs/retire';
import { rollbackArguments, type rollbackOptions } from '../specs/rollback';
import { oneModel } from '../command';
import { requireOutput, resolveTarget } from '../target';

export const runPromote: CommandRun<typeof promoteOptions> = async (input) => operate(input.values, { operation: 'promote', ...promoteArguments(input) });

export const runRollback: CommandRun<typeof rollbackOptions> = async (input) => operate(input.values, { operation: 'rollback', ...rollbackArguments(input) });

export const runRetire: CommandRun<typeof retireOptions> = async (input) =>
  operate(input.values, { operation: 'retire', model: oneModel('retire', input.positionals, 'modelgate retire fraud') });

async function operate(values: CommandInput<typeof rollbackOptions>['values'], input: { operation: string; model: string; version?: string; to?: string }): Promise<number> {
  const target = await resolveTarget(values);
  // An unknown model or version is bad input (exit 2), refused before any execution starts.
  await requireRegistered(registryOf(target), input.model, [input.version, input.to]);
  const sfn = stepFunctionsClient(target);
  const executionArn = await startOperation(sfn, requireOutput(target, 'PipelineStateMachineArn'), input);
  const log = values.json ? undefined : (line: string) => console.log(line);
  log?.(`execution ${executionArn}`);
  const execution = await followExecution(sfn, executionArn, { ...(log ? { progress: log } : {}), pollMs: 500 });
  const ok = execution.status === 'SUCCEEDED';
  const nextStep = ok
    ? null
    : input.operation === 'retire'
      ? `\`modelgate models ${input.model}\` shows the model's history; the execution's history (its error) says which step failed`
      : `\`modelgate models ${input.model}\` shows each version's status and what can be ${input.operation === 'promote' ? 'promoted' : 'rolled back to'}`;
  if (values.json) console.log(JSON.stringify({ ...input, executionArn, status: execution.status, error: execution.error ?? null, cause: execution.cause ?? null, nextStep }));
  else
    console.log(
      ok
        ? `\n${input.operation} of ${input.model}: done`
        : `\n${input.operation} of ${input.model} failed: ${execution.error ?? execution.status}${execution.cause ? `: ${execution.cause}` : ''}\nnext: ${nextStep}`,
    );
  return ok ? 0 : 1;
}
