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
    bucket: read.required('MODEL_BUCKET'),
    prefix: read.required('MODEL_PREFIX'),
    ...(env.MODEL_PACKED_FILE ? { packedFile: env.MODEL_PACKED_FILE } : {}),
    table: read.required('PREDICTION_TABLE'),
    ttlDays: read.integer('PREDICTION_TTL_DAYS', 90),
    logShards: read.integer('PREDICTION_LOG_SHARDS', 4),
    maxBatchRows: read.integer('MAX_BATCH_ROWS', 1000),
    maxBodyBytes: read.integer('MAX_BODY_BYTES', 1_048_576),
    metricsNamespace: read.required('POWERTOOLS_METRICS_NAMESPACE'),
    serviceName: env.POWERTOOLS_SERVICE_NAME || 'modelgate-inference',
    ...(env.PREDICTION_LOG_FALLBACK_FILE ? { fallbackFile: env.PREDICTION_LOG_FALLBACK_FILE } : {}),
  };
  read.throwIfAny();
  return config;
}
