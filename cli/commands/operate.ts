// `modelgate promote <name> <version>` and `modelgate rollback <name> [--to <version>]`: operator requests,
// run by the promotion state machine under the model's lock (a baking rollout yields at its next check).
import { parseArgs } from 'node:util';
import type { Command } from '../command';
import { followExecution, registryOf, startOperation, stepFunctionsClient } from '../pipeline-client';
import { requireOutput, resolveTarget, targetOptions, targetUsage, type Target } from '../target';
import { UsageError } from '../usage-error';

async function operate(values: Parameters<typeof resolveTarget>[0] & { json?: boolean }, input: Record<string, unknown>): Promise<number> {
  const target = await resolveTarget(values);
  await requireRegistered(target, input.model as string, [input.version, input.to]);
  const sfn = stepFunctionsClient(target);
  const executionArn = await startOperation(sfn, requireOutput(target, 'PipelineStateMachineArn'), input);
  const log = values.json ? undefined : (line: string) => console.log(line);
  log?.(`execution ${executionArn}`);
  const execution = await followExecution(sfn, executionArn, { ...(log ? { progress: log } : {}), pollMs: 500 });
  const ok = execution.status === 'SUCCEEDED';
  if (values.json) console.log(JSON.stringify({ ...input, executionArn, status: execution.status, error: execution.error ?? null, cause: execution.cause ?? null }));
  else console.log(ok ? `\n${input.operation} of ${input.model}: done` : `\n${input.operation} of ${input.model} failed: ${execution.error ?? execution.status}${execution.cause ? `: ${execution.cause}` : ''}`);
  return ok ? 0 : 1;
}

/** An unknown model or version is bad input (exit 2), caught before any execution starts. */
async function requireRegistered(target: Target, model: string, versions: unknown[]): Promise<void> {
  const registered = (await registryOf(target).listVersions(model)).map((v) => v.version);
  if (registered.length === 0) throw new UsageError(`model "${model}" has no registered versions`);
  for (const version of versions) {
    if (typeof version === 'string' && !registered.includes(version)) {
      throw new UsageError(`version "${version}" of ${model} is not registered (registered: ${registered.join(', ')})`);
    }
  }
}

export const promoteCommand: Command = {
  name: 'promote',
  summary: 'Give all traffic to a registered version (a canary, experiment, shadow or earlier version)',
  usage: `usage: modelgate promote <name> <version> [--json] [target options]

The version takes all traffic of the model's live alias; the live version is retired, another challenger
retired (a canary rolled back). Exit 1 when the version cannot be promoted (the reason is printed); 2 for an unknown model or version.

${targetUsage}`,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...targetOptions, json: { type: 'boolean', default: false } } });
    const [model, version, ...extra] = positionals;
    if (model === undefined || version === undefined || extra.length > 0) throw new UsageError('promote takes a model name and a version');
    return operate(values, { operation: 'promote', model, version });
  },
};

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: 'Remove a challenger, or return all traffic to an earlier version',
  usage: `usage: modelgate rollback <name> [--to <version>] [--json] [target options]

Without --to: a challenger (canary, experiment, shadow) leaves traffic and the live version keeps serving;
with no challenger, the live version is rolled back to the most recently retired one. With --to: that
version (retired or rolled back) takes all traffic. Exit 1 when there is nothing to roll back to.

${targetUsage}`,
  async run(args) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...targetOptions, to: { type: 'string' }, json: { type: 'boolean', default: false } } });
    const [model, ...extra] = positionals;
    if (model === undefined || extra.length > 0) throw new UsageError('rollback takes a model name');
    return operate(values, { operation: 'rollback', model, ...(values.to ? { to: values.to } : {}) });
  },
};
