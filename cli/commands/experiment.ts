// `modelgate experiment`: A/B experiments between two versions of a model (docs/experiments.md). Start checks
// the live routing and stores the definition; status reads the arms' counters through the same analysis the
// API serves; stop concludes through the promotion pipeline (promote the treatment, or roll it back).
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ExperimentConflictError, ExperimentStore } from '../../lambdas/adapters/experiment-store';
import { LambdaControl } from '../../lambdas/adapters/lambda-control';
import { ValidationError } from '../../lambdas/core/errors';
import { ConclusionError, planConclusion, type ConclusionChoice, type ControlOutcome, type PipelineControl } from '../../lambdas/core/experiments/conclusion';
import {
  EXPERIMENT_ID_PATTERN,
  experimentId,
  experimentSummary,
  planExperiment,
  type ExperimentDefinition,
  type ExperimentRequest,
} from '../../lambdas/core/experiments/definition';
import { snapshotOf } from '../../lambdas/core/experiments/report';
import type { RoutingState, VersionRecord } from '../../lambdas/core/pipeline/registry-types';
import { currentReport } from '../../lambdas/use-cases/experiments/analyze-experiments';
import { LOCAL_CREDENTIALS } from '../../local/aws-clients';
import type { CommandInput, CommandRun } from '../command';
import { describeDefinition, describeReport } from '../experiment-text';
import { followExecution, startOperation, stepFunctionsClient } from '../pipeline-client';
import { registryOf, requireRegistered } from '../registry';
import type { experimentOptions, experimentSubcommands } from '../specs/experiment';
import { requireOneOf, unknownName } from '../suggest';
import { requireOutput, resolveTarget, type Target } from '../target';
import { UsageError } from '../usage-error';

type Input<S extends keyof typeof experimentSubcommands> = CommandInput<(typeof experimentSubcommands)[S]['options']>;

/** Runs `modelgate experiment <sub> ...`: main.ts parsed the sub-command's flags and put it first. */
export const runExperiment: CommandRun<typeof experimentOptions> = async ({ values, positionals }) => {
  const [sub, ...rest] = positionals;
  const input = { values, positionals: rest };
  switch (sub) {
    case 'start':
      return start(input as Input<'start'>);
    case 'status':
      return status(input as Input<'status'>);
    case 'stop':
      return stop(input as Input<'stop'>);
    default:
      return list(input as Input<'list'>);
  }
};

async function start({ values }: Input<'start'>): Promise<number> {
  for (const flag of ['model', 'control', 'treatment', 'metric'] as const) {
    if (values[flag] === undefined) throw new UsageError(`start needs --${flag}`, 'e.g. `modelgate experiment start --model churn --control 1 --treatment 2 --metric conversion`');
  }
  if (values.direction !== undefined) requireOneOf('--direction', values.direction, ['increase', 'decrease']);
  const metric = values.direction ? `${values.metric as string}:${values.direction}` : (values.metric as string);
  const request: ExperimentRequest = {
    model: values.model,
    control: values.control,
    treatment: values.treatment,
    metric,
    ...(values.id !== undefined ? { id: values.id } : {}),
    ...(values.hypothesis !== undefined ? { hypothesis: values.hypothesis } : {}),
    ...(values.split !== undefined ? { split: values.split } : {}),
    ...(values.assignment !== undefined ? { assignment: values.assignment } : {}),
    ...(values.mde !== undefined ? { mde: values.mde } : {}),
    ...(values.baseline !== undefined ? { baseline: values.baseline } : {}),
    ...(values.alpha !== undefined ? { alpha: values.alpha } : {}),
    ...(values.power !== undefined ? { power: values.power } : {}),
    ...(values['max-days'] !== undefined ? { maxDays: values['max-days'] } : {}),
    ...(values.engine !== undefined ? { engine: values.engine } : {}),
    ...(values.correction !== undefined ? { correction: values.correction } : {}),
    ...(values['sequential-tuning'] !== undefined ? { sequentialTuning: values['sequential-tuning'] } : {}),
    ...(values['start-delay'] !== undefined ? { startDelaySeconds: values['start-delay'] } : {}),
    ...(values.guardrail ? { guardrails: values.guardrail.flatMap((g) => g.split(',')) } : {}),
    ...(values.secondary ? { secondary: values.secondary.flatMap((g) => g.split(',')) } : {}),
  };
  // The flags on their own first: a typo exits 2 before anything is read from the stack.
  const checked = plan(request, {});

  const target = await resolveTarget(values);
  const store = new ExperimentStore(target.dynamodb, requireOutput(target, 'ExperimentTableName'));
  if (target.outputs.RegistryTableName) await requireRegistered(registryOf(target), checked.model, [checked.control.version, checked.treatment.version]);
  const live = await liveRouting(target, checked.model);
  const arms = checkRouting(checked, live, values.split !== undefined);
  if ('refusal' in arms) return fail(arms.refusal.message, arms.refusal.nextStep, values.json);
  const definition = plan({ ...request, split: arms.split }, arms.lambdaVersions);
  try {
    await store.create(definition, operator());
  } catch (error) {
    if (error instanceof ExperimentConflictError) return fail(error.message, '`modelgate experiment list` shows the experiments', values.json);
    throw error;
  }
  if (values.json) console.log(JSON.stringify({ experiment: definition }));
  else
    console.log(
      [...describeDefinition(definition), '', countingLine(definition, new Date()), `Started. Read it with: npx modelgate experiment status ${definition.id}`].join('\n'),
    );
  return 0;
}

/** When counting begins: before it, predictions are not counted and events about them are refused (docs/experiments.md). */
function countingLine(definition: ExperimentDefinition, now: Date): string {
  const seconds = Math.max(0, Math.round((Date.parse(definition.startedAt) - now.getTime()) / 1000));
  return (
    `Counting starts at ${definition.startedAt}${seconds > 0 ? `, in ${seconds} s (every reader learns of the experiment first)` : ''}: ` +
    'predictions served before are not counted, and events about them are answered not_in_experiment (status counts them as too early).'
  );
}

/** The definition, or a usage error naming every bad flag. */
function plan(request: ExperimentRequest, lambdaVersions: { control?: string; treatment?: string }): ExperimentDefinition {
  const suffix = randomBytes(3).toString('hex');
  try {
    return planExperiment(request, new Date(), {
      generatedId: experimentId(String(request.model), String(request.control), String(request.treatment), suffix),
      lambdaVersions,
    });
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const flagOf: Record<string, string> = {
      maxDays: '--max-days',
      sequentialTuning: '--sequential-tuning',
      startDelaySeconds: '--start-delay',
      guardrails: '--guardrail',
      secondary: '--secondary',
      mde: '--mde',
    };
    throw new UsageError(error.issues.map((i) => `${flagOf[i.field.split(/[.[]/)[0] as string] ?? `--${i.field.split(/[.[]/)[0]}`}: ${i.reason}`).join('; '));
  }
}

interface LiveRouting {
  readonly routing?: RoutingState;
  readonly versions: readonly VersionRecord[];
  readonly source: 'registry' | 'alias' | 'none';
}

/**
 * How the model's live alias routes, in model versions: the registry's copy (the pipeline records every
 * change it makes), else the alias itself through the Lambda API (a stack or runtime without a registry
 * entry for the model).
 */
async function liveRouting(target: Target, model: string): Promise<LiveRouting> {
  if (target.outputs.RegistryTableName) {
    const registry = registryOf(target);
    const [record, versions] = await Promise.all([registry.getModel(model), registry.listVersions(model)]);
    if (record?.routing) return { routing: record.routing, versions, source: 'registry' };
  }
  const functionArn = Object.entries(target.outputs).find(([name]) => name.toLowerCase() === `${model.replace(/-/g, '')}functionarn`)?.[1];
  if (!functionArn || (target.kind === 'local' && !target.endpoints.lambda)) return { versions: [], source: 'none' };
  const client = target.endpoints.lambda
    ? new LambdaClient({ endpoint: target.endpoints.lambda, region: target.region, credentials: LOCAL_CREDENTIALS })
    : new LambdaClient({ region: target.region });
  const functionName = functionArn.split(':')[6] as string;
  const alias = await new LambdaControl(client).getRouting(functionName);
  const modelVersionOf = async (qualifier: string) => {
    const configuration = await client.send(new GetFunctionConfigurationCommand({ FunctionName: functionName, Qualifier: qualifier }));
    const variables = configuration.Environment?.Variables ?? {};
    return variables.MODEL_VERSION ?? (variables.MODEL_PREFIX ?? '').split('/').filter(Boolean).pop() ?? qualifier;
  };
  const primary = { version: await modelVersionOf(alias.version), lambdaVersion: alias.version };
  const additional =
    alias.additionalVersion && (alias.additionalWeight ?? 0) > 0
      ? { version: await modelVersionOf(alias.additionalVersion), lambdaVersion: alias.additionalVersion, weight: alias.additionalWeight as number }
      : undefined;
  return { routing: { primary, ...(additional ? { additional } : {}), updatedAt: new Date().toISOString() }, versions: [], source: 'alias' };
}

/** Whether the live routing can carry the experiment, the split it gives, and the arms' Lambda versions. */
type Refusal = { readonly message: string; readonly nextStep: string };

function checkRouting(
  definition: ExperimentDefinition,
  live: LiveRouting,
  splitGiven: boolean,
): { split: number; lambdaVersions: { control?: string; treatment?: string } } | { refusal: Refusal } {
  const { routing } = live;
  const { model, control, treatment } = definition;
  if (!routing)
    return {
      refusal: {
        message: `cannot read how ${model}'s live alias routes (no registry entry and no Lambda API to ask)`,
        nextStep: 'deploy or start the stack with its promotion pipeline',
      },
    };
  const lambdaVersionOf = (version: string) =>
    [routing.primary, routing.additional].find((r) => r?.version === version)?.lambdaVersion ?? live.versions.find((v) => v.version === version)?.lineage.lambdaVersion;
  const lambdaVersions = { control: lambdaVersionOf(control.version), treatment: lambdaVersionOf(treatment.version) };
  const routed = `the live alias routes ${routing.primary.version} (${round(1 - (routing.additional?.weight ?? 0))})${routing.additional ? ` and ${routing.additional.version} (${round(routing.additional.weight)})` : ' only'}`;
  if (routing.primary.version !== control.version) {
    return {
      refusal: {
        message: `the control must be the live version: ${routed}`,
        nextStep: `use --control ${routing.primary.version}, or make v${control.version} live first (\`modelgate promote ${model} ${control.version}\`)`,
      },
    };
  }
  if (definition.assignment === 'request') {
    if (routing.additional?.version !== treatment.version) {
      // A version is pushed once: a published treatment cannot be rolled out again, but unit assignment can reach it.
      const nextStep = lambdaVersions.treatment
        ? `v${treatment.version} was pushed already (a version is pushed once), so use --assignment unit (requests carrying an x-modelgate-unit-id header are split by a hash), or push its model as a new version with --strategy ab-test`
        : `roll ${model} v${treatment.version} out with the ab-test strategy first (\`modelgate push <its bundle> --strategy ab-test\`), or use --assignment unit once it is published`;
      return { refusal: { message: `a request-level experiment splits traffic with the live alias, but ${routed}`, nextStep } };
    }
    if (splitGiven && Math.abs(routing.additional.weight - definition.split) > 1e-6) {
      return {
        refusal: {
          message: `--split ${definition.split} does not match the alias, which gives v${treatment.version} ${round(routing.additional.weight)}: the sample ratio check would flag every analysis`,
          nextStep: "leave --split out to use the alias's weight",
        },
      };
    }
    return { split: routing.additional.weight, lambdaVersions };
  }
  if (!lambdaVersions.treatment) {
    return {
      refusal: {
        message: `unit-level routing invokes the treatment's Lambda version, but ${model} v${treatment.version} has none`,
        nextStep: 'publish it through the pipeline first (`modelgate push <its bundle>`)',
      },
    };
  }
  return { split: definition.split, lambdaVersions };
}

async function status({ values, positionals }: Input<'status'>): Promise<number> {
  const id = experimentIdArgument(positionals, 'status');
  const target = await resolveTarget(values);
  const store = new ExperimentStore(target.dynamodb, requireOutput(target, 'ExperimentTableName'));
  const stored = await requireExperiment(store, id);
  const report = await currentReport(store, stored.definition, new Date());
  if (values.snapshot) await store.putSnapshot(id, snapshotOf(report));
  if (values.json) console.log(JSON.stringify({ experiment: stored.definition, analysis: report }));
  else console.log([...describeDefinition(stored.definition), '', ...describeReport(report), ...conclusionLines(stored.definition)].join('\n'));
  return 0;
}

async function stop({ values, positionals }: Input<'stop'>): Promise<number> {
  const id = experimentIdArgument(positionals, 'stop');
  if (values.ship && values['keep-control']) throw new UsageError('--ship and --keep-control exclude each other', 'give one of them, or neither to follow the analysis');
  const choice: ConclusionChoice = values.ship ? 'ship' : values['keep-control'] ? 'keep-control' : 'decision';
  const target = await resolveTarget(values);
  const store = new ExperimentStore(target.dynamodb, requireOutput(target, 'ExperimentTableName'));
  const stored = await requireExperiment(store, id);
  const { definition } = stored;
  const now = new Date();
  const report = await currentReport(store, definition, now);
  const live = await liveRouting(target, definition.model);
  let conclusion;
  try {
    conclusion = planConclusion(definition, report, choice, live.routing);
  } catch (error) {
    if (!(error instanceof ConclusionError)) throw error;
    if (!values.json) console.log(describeReport(report).join('\n'));
    return fail(error.message, `\`modelgate experiment status ${id}\` shows the analysis`, values.json);
  }
  const log = values.json ? undefined : (line: string) => console.log(line);
  let outcome: ControlOutcome | undefined;
  if (conclusion.action.kind !== 'none') {
    const pipeline = pipelineControl(target, log);
    log?.(
      conclusion.action.kind === 'promote'
        ? `promoting ${definition.model} v${conclusion.action.version} through the pipeline`
        : `rolling back ${definition.model} v${definition.treatment.version} through the pipeline`,
    );
    outcome = conclusion.action.kind === 'promote' ? await pipeline.promote(definition.model, conclusion.action.version) : await pipeline.rollback(definition.model);
    if (!outcome.succeeded)
      return fail(`the pipeline did not ${conclusion.action.kind}: ${outcome.summary} (the experiment keeps running)`, 'fix the cause and stop it again', values.json);
  } else {
    log?.(conclusion.action.why);
  }
  const endedAt = new Date();
  const concluded = await store.revise(
    definition,
    {
      ...definition,
      status: 'concluded',
      endedAt: endedAt.toISOString(),
      conclusion: {
        at: endedAt.toISOString(),
        outcome: conclusion.outcome,
        decision: report.decision,
        by: operator(),
        pipeline: outcome ? { executionArn: outcome.executionArn ?? null, summary: outcome.summary } : { summary: conclusion.action.kind === 'none' ? conclusion.action.why : '' },
      },
    },
    'concluded',
    operator(),
    endedAt,
  );
  await store.putSnapshot(id, snapshotOf(report));
  if (values.json) console.log(JSON.stringify({ experiment: concluded, analysis: report }));
  else console.log(['', ...describeReport(report), ...conclusionLines(concluded)].join('\n'));
  return 0;
}

async function list({ values }: Input<'list'>): Promise<number> {
  const target = await resolveTarget(values);
  const store = new ExperimentStore(target.dynamodb, requireOutput(target, 'ExperimentTableName'));
  const all = await allExperiments(store);
  if (values.json) {
    console.log(
      JSON.stringify({
        experiments: all.map((d) => ({ ...experimentSummary(d), outcome: d.conclusion?.outcome ?? null })),
      }),
    );
  } else if (all.length === 0) {
    console.log('no experiments yet (npx modelgate experiment start --help)');
  } else {
    for (const d of all)
      console.log(
        `${d.id.padEnd(36)} ${d.status.padEnd(10)} ${d.model} v${d.control.version} vs v${d.treatment.version}  ${d.primaryMetric.name}  since ${d.startedAt}${d.conclusion ? `  -> ${d.conclusion.outcome}` : ''}`,
      );
  }
  return 0;
}

/** The pipeline's operator path, followed to its end (cli/pipeline-client.ts, as promote and rollback do). */
function pipelineControl(target: Target, log?: (line: string) => void): PipelineControl {
  const sfn = stepFunctionsClient(target);
  const stateMachineArn = requireOutput(target, 'PipelineStateMachineArn');
  const run = async (input: Record<string, string>): Promise<ControlOutcome> => {
    const executionArn = await startOperation(sfn, stateMachineArn, input);
    log?.(`execution ${executionArn}`);
    const execution = await followExecution(sfn, executionArn, { ...(log ? { progress: log } : {}), pollMs: 500 });
    if (execution.status === 'SUCCEEDED') return { succeeded: true, executionArn, summary: controlSummary(execution.output) ?? `${input.operation} done` };
    return { succeeded: false, executionArn, summary: [execution.error, execution.cause].filter(Boolean).join(': ') || `execution ${execution.status}` };
  };
  return { promote: (model, version) => run({ operation: 'promote', model, version }), rollback: (model) => run({ operation: 'rollback', model }) };
}

function controlSummary(output: string | undefined): string | undefined {
  try {
    const parsed = JSON.parse(output ?? '{}') as { control?: { summary?: unknown } };
    return typeof parsed.control?.summary === 'string' ? parsed.control.summary : undefined;
  } catch {
    return undefined;
  }
}

function conclusionLines(definition: ExperimentDefinition): string[] {
  const c = definition.conclusion;
  if (!c) return [];
  const action = c.outcome === 'ship-treatment' ? `v${definition.treatment.version} promoted` : `v${definition.control.version} kept`;
  return ['', `concluded ${c.at} by ${c.by}: ${action} (analysis said: ${c.decision})${c.pipeline?.summary ? `; pipeline: ${String(c.pipeline.summary)}` : ''}`];
}

function experimentIdArgument(positionals: string[], sub: string): string {
  const [id, ...extra] = positionals;
  if (id === undefined || extra.length > 0) throw new UsageError(`${sub} takes one experiment id`, '`modelgate experiment list` lists them');
  if (!EXPERIMENT_ID_PATTERN.test(id)) throw new UsageError(`"${id}" is not an experiment id (lower-case letters, digits and dashes)`, '`modelgate experiment list` lists them');
  return id;
}

async function allExperiments(store: ExperimentStore): Promise<ExperimentDefinition[]> {
  return (await Promise.all((['running', 'stopped', 'concluded'] as const).map((s) => store.list(s)))).flat();
}

/** The stored experiment; an unknown id is bad input (exit 2) naming the known ones. */
async function requireExperiment(store: ExperimentStore, id: string): Promise<NonNullable<Awaited<ReturnType<ExperimentStore['get']>>>> {
  const stored = await store.get(id);
  if (stored) return stored;
  throw unknownName(
    'experiment',
    id,
    (await allExperiments(store)).map((d) => d.id),
    { whenNone: 'start one with `modelgate experiment start`' },
  );
}

/** A refusal or failure of the outcome (exit 1), printed as cli/failure.ts prints the others. */
function fail(message: string, nextStep: string, json: boolean | undefined): number {
  if (json) console.log(JSON.stringify({ error: message, nextStep, exitCode: 1 }));
  console.error(`modelgate experiment: ${message}; ${nextStep}`);
  return 1;
}

function operator(): string {
  try {
    return process.env.MODELGATE_OPERATOR ?? userInfo().username;
  } catch {
    return 'unknown';
  }
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
