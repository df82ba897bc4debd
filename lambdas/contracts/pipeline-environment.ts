// The pipeline functions' settings, from their environment (set by lib/promotion-pipeline.ts).
import type { AlarmThresholds } from '../core/monitoring/alarms';
import { ConfigError, EnvReader } from './environment';

export interface PipelineEnvironment {
  /** The base stack's name: every resource name derives from it (core/naming.ts). */
  readonly deployment: string;
  readonly registryTable: string;
  readonly modelBucket: string;
  readonly predictionTable: string;
  readonly predictionLogShards: number;
  /** model name -> the name of the function that serves it. */
  readonly modelFunctions: Readonly<Record<string, string>>;
  readonly lockTtlSeconds: number;
  readonly bakeCheckSeconds: number;
  readonly replayLimit: number;
  /** model -> alarm thresholds of its published versions (core/monitoring/alarms.ts), merged over the defaults. */
  readonly alarmThresholds: Readonly<Record<string, Partial<AlarmThresholds>>>;
  /** Actions (SNS topic ARNs) of the alarms the pipeline creates. */
  readonly alarmActions: readonly string[];
  /** Seconds the validation waits for files the manifest names that have not arrived yet. */
  readonly bundleWaitSeconds: number;
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
    deployment: () => text('DEPLOYMENT_NAME'),
    registryTable: () => text('REGISTRY_TABLE'),
    modelBucket: () => text('MODEL_BUCKET'),
    predictionTable: () => text('PREDICTION_TABLE'),
    predictionLogShards: () => Math.max(1, count('PREDICTION_LOG_SHARDS', 4)),
    modelFunctions: () => object('MODEL_FUNCTIONS', text('MODEL_FUNCTIONS'), 'model name -> function name') as Record<string, string>,
    alarmThresholds: () => object('ALARM_THRESHOLDS', env.ALARM_THRESHOLDS ?? '{}', 'model name -> alarm thresholds') as Record<string, Partial<AlarmThresholds>>,
    alarmActions: () => {
      const parsed = parse(env.ALARM_ACTIONS ?? '[]');
      if (Array.isArray(parsed) && parsed.every((a) => typeof a === 'string')) return parsed as string[];
      read.problem(`ALARM_ACTIONS must be a JSON list of ARNs, got: ${env.ALARM_ACTIONS}`);
      return [];
    },
    lockTtlSeconds: () => count('LOCK_TTL_SECONDS', 6 * 3600),
    bakeCheckSeconds: () => Math.max(1, count('BAKE_CHECK_SECONDS', 60)),
    replayLimit: () => count('REPLAY_LIMIT', 200),
    bundleWaitSeconds: () => count('BUNDLE_WAIT_SECONDS', 60),
  };
  const values = Object.fromEntries(keys.map((key) => [key, readers[key]()])) as Pick<PipelineEnvironment, K>;
  read.throwIfAny();
  return values;
}

/** The function serving `model`; a model the stack does not serve is a configuration error. */
export function functionFor(functions: Readonly<Record<string, string>>, model: string): string {
  const name = functions[model];
  if (!name) throw new ConfigError(`no function serves model "${model}" (this stack serves: ${Object.keys(functions).join(', ') || 'none'})`);
  return name;
}
