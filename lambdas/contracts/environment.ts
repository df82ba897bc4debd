/** The inference function's settings, read once at init from its environment. */
export interface ServingConfig {
  readonly bucket: string;
  /** S3 key prefix of the bundle (manifest.json + model file). */
  readonly prefix: string;
  /** The bundle packed in one object under the prefix (set by the pipeline's publish step); one S3 read at init. */
  readonly packedFile?: string;
  readonly table: string;
  readonly ttlDays: number;
  readonly logShards: number;
  readonly maxBatchRows: number;
  readonly maxBodyBytes: number;
  readonly metricsNamespace: string;
  readonly serviceName: string;
  /** Local runs: append fallback records to this file instead of stdout. */
  readonly fallbackFile?: string;
}

/**
 * The inference function's variables, by setting: lib/ writes them with `inferenceEnvironment`, the function
 * reads them with `servingConfigFromEnv` — one list of names for both sides.
 */
export const INFERENCE_VARIABLES = {
  bucket: 'MODEL_BUCKET',
  prefix: 'MODEL_PREFIX',
  packedFile: 'MODEL_PACKED_FILE',
  modelName: 'MODEL_NAME',
  modelVersion: 'MODEL_VERSION',
  table: 'PREDICTION_TABLE',
  ttlDays: 'PREDICTION_TTL_DAYS',
  logShards: 'PREDICTION_LOG_SHARDS',
  maxBatchRows: 'MAX_BATCH_ROWS',
  maxBodyBytes: 'MAX_BODY_BYTES',
  registryTable: 'REGISTRY_TABLE',
  experimentTable: 'EXPERIMENT_TABLE',
} as const;

/** What a deployment sets for a model's inference function (the pipeline's publish step adds prefix, version, packed file). */
export interface InferenceSettings {
  readonly bucket: string;
  readonly prefix: string;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly table: string;
  readonly ttlDays: number;
  readonly logShards: number;
  readonly maxBatchRows: number;
  readonly maxBodyBytes: number;
  /** Shadow rollouts: the registry says which version mirrors the model's traffic. */
  readonly registryTable?: string;
  /** Sticky (unit-level) experiments. */
  readonly experimentTable?: string;
}

export function inferenceEnvironment(settings: InferenceSettings): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const [key, name] of Object.entries(INFERENCE_VARIABLES)) {
    const value = settings[key as keyof InferenceSettings];
    if (value !== undefined) variables[name] = String(value);
  }
  return variables;
}

/** A missing or malformed environment variable: init fails with this message in the function's log. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads a function's environment, collecting every problem so init fails once with all of them
 * (`throwIfAny`), each naming the variable and the bad value.
 */
export class EnvReader {
  private readonly problems: string[] = [];

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** A variable that must be set and non-empty. */
  required(name: string): string {
    const value = this.env[name];
    if (value === undefined || value === '') this.problems.push(`${name} is not set`);
    return value ?? '';
  }

  /** An integer >= `min` (default 1), or `fallback` when unset. */
  integer(name: string, fallback: number, min = 1): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < min) {
      const kind = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer >= ${min}`;
      this.problems.push(`${name} must be ${kind}, got: ${raw}`);
    }
    return value;
  }

  problem(message: string): void {
    this.problems.push(message);
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw new ConfigError(`invalid function environment: ${this.problems.join('; ')}`);
  }
}

export function servingConfigFromEnv(env: NodeJS.ProcessEnv): ServingConfig {
  const read = new EnvReader(env);
  const config: ServingConfig = {
    bucket: read.required(INFERENCE_VARIABLES.bucket),
    prefix: read.required(INFERENCE_VARIABLES.prefix),
    ...(env[INFERENCE_VARIABLES.packedFile] ? { packedFile: env[INFERENCE_VARIABLES.packedFile] } : {}),
    table: read.required(INFERENCE_VARIABLES.table),
    ttlDays: read.integer(INFERENCE_VARIABLES.ttlDays, 90),
    logShards: read.integer(INFERENCE_VARIABLES.logShards, 4),
    maxBatchRows: read.integer(INFERENCE_VARIABLES.maxBatchRows, 1000),
    maxBodyBytes: read.integer(INFERENCE_VARIABLES.maxBodyBytes, 1_048_576),
    metricsNamespace: read.required('POWERTOOLS_METRICS_NAMESPACE'),
    serviceName: env.POWERTOOLS_SERVICE_NAME || 'modelgate-inference',
    ...(env.PREDICTION_LOG_FALLBACK_FILE ? { fallbackFile: env.PREDICTION_LOG_FALLBACK_FILE } : {}),
  };
  read.throwIfAny();
  return config;
}
