// The pipeline functions' settings, from their environment (written by lib/pipeline/promotion-pipeline.ts).
import { EnvReader } from './environment';
import { DEPLOYMENT_PARAMETER_NAMES, MODEL_STACK_PARAMETER_NAMES, type DeploymentParameters } from './model-stack';

export interface PipelineEnvironment {
  /** The base stack's name: every resource name derives from it (core/naming.ts). */
  readonly deployment: string;
  readonly registryTable: string;
  readonly modelBucket: string;
  readonly predictionTable: string;
  readonly predictionLogShards: number;
  readonly lockTtlSeconds: number;
  readonly bakeCheckSeconds: number;
  readonly replayLimit: number;
  /** Actions (SNS topic ARNs) of the alarms the pipeline creates. */
  readonly alarmActions: readonly string[];
  /** Seconds the validation waits for files the manifest names that have not arrived yet. */
  readonly bundleWaitSeconds: number;
  /** What the base stack hands every model stack (lambdas/contracts/model-stack.ts). */
  readonly modelStackParameters: DeploymentParameters;
  /** The CloudFormation service role model stacks are created with. */
  readonly modelStackRoleArn: string;
}

/** The variable of each setting: lib/ writes them with `pipelineVariables`, the functions read them here. */
export const PIPELINE_VARIABLES: { readonly [K in keyof PipelineEnvironment]: string } = {
  deployment: 'DEPLOYMENT_NAME',
  registryTable: 'REGISTRY_TABLE',
  modelBucket: 'MODEL_BUCKET',
  predictionTable: 'PREDICTION_TABLE',
  predictionLogShards: 'PREDICTION_LOG_SHARDS',
  lockTtlSeconds: 'LOCK_TTL_SECONDS',
  bakeCheckSeconds: 'BAKE_CHECK_SECONDS',
  replayLimit: 'REPLAY_LIMIT',
  alarmActions: 'ALARM_ACTIONS',
  bundleWaitSeconds: 'BUNDLE_WAIT_SECONDS',
  modelStackParameters: 'MODEL_STACK_PARAMETERS',
  modelStackRoleArn: 'MODEL_STACK_ROLE_ARN',
};

/**
 * A function's environment from its settings, objects and lists as JSON (`json` lets CDK render values that
 * are not known until deploy time: Stack.toJsonString).
 */
export function pipelineVariables(
  settings: { readonly [K in keyof PipelineEnvironment]?: PipelineEnvironment[K] },
  json: (value: unknown) => string = JSON.stringify,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(settings).map(([key, value]) => [PIPELINE_VARIABLES[key as keyof PipelineEnvironment], typeof value === 'object' ? json(value) : String(value)]),
  );
}

/** Reads only what a function asks for, so each function's environment carries only its own settings. */
export function pipelineEnvironment<K extends keyof PipelineEnvironment>(env: NodeJS.ProcessEnv, keys: readonly K[]): Pick<PipelineEnvironment, K> {
  const read = new EnvReader(env);
  const text = (name: string): string => read.required(name);
  const count = (name: string, fallback: number): number => read.integer(name, fallback, 0);
  const parse = (raw: string): unknown => {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return undefined;
    }
  };
  const object = (name: string, raw: string, what: string): object => {
    const parsed = parse(raw || '{}');
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
    read.problem(`${name} must be a JSON object of ${what}, got: ${raw}`);
    return {};
  };
  const readers: { [P in keyof PipelineEnvironment]: () => PipelineEnvironment[P] } = {
    deployment: () => text(PIPELINE_VARIABLES.deployment),
    registryTable: () => text(PIPELINE_VARIABLES.registryTable),
    modelBucket: () => text(PIPELINE_VARIABLES.modelBucket),
    predictionTable: () => text(PIPELINE_VARIABLES.predictionTable),
    predictionLogShards: () => Math.max(1, count(PIPELINE_VARIABLES.predictionLogShards, 4)),
    alarmActions: () => {
      const parsed = parse(env[PIPELINE_VARIABLES.alarmActions] ?? '[]');
      if (Array.isArray(parsed) && parsed.every((a) => typeof a === 'string')) return parsed as string[];
      read.problem(`ALARM_ACTIONS must be a JSON list of ARNs, got: ${env[PIPELINE_VARIABLES.alarmActions]}`);
      return [];
    },
    lockTtlSeconds: () => count(PIPELINE_VARIABLES.lockTtlSeconds, 6 * 3600),
    bakeCheckSeconds: () => Math.max(1, count(PIPELINE_VARIABLES.bakeCheckSeconds, 60)),
    replayLimit: () => count(PIPELINE_VARIABLES.replayLimit, 200),
    bundleWaitSeconds: () => count(PIPELINE_VARIABLES.bundleWaitSeconds, 60),
    modelStackParameters: () => {
      const parsed = object(PIPELINE_VARIABLES.modelStackParameters, text(PIPELINE_VARIABLES.modelStackParameters), 'model stack parameters') as Record<string, unknown>;
      for (const name of MODEL_STACK_PARAMETER_NAMES) {
        if (DEPLOYMENT_PARAMETER_NAMES.includes(name) && typeof parsed[name] !== 'string')
          read.problem(`MODEL_STACK_PARAMETERS.${name} must be a string, got: ${JSON.stringify(parsed[name])}`);
      }
      return parsed as DeploymentParameters;
    },
    modelStackRoleArn: () => text(PIPELINE_VARIABLES.modelStackRoleArn),
  };
  const values = Object.fromEntries(keys.map((key) => [key, readers[key]()])) as Pick<PipelineEnvironment, K>;
  read.throwIfAny();
  return values;
}
