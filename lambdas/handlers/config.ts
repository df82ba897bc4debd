/** The inference function's settings, read once at init from its environment. */
export interface ServingConfig {
  readonly bucket: string;
  /** S3 key prefix of the bundle (manifest.json + model file). */
  readonly prefix: string;
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

export function servingConfigFromEnv(env: NodeJS.ProcessEnv): ServingConfig {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === '') problems.push(`${name} is not set`);
    return value ?? '';
  };
  const positiveInt = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < 1) problems.push(`${name} must be a positive integer, got: ${raw}`);
    return value;
  };
  const config: ServingConfig = {
    bucket: required('MODEL_BUCKET'),
    prefix: required('MODEL_PREFIX'),
    table: required('PREDICTION_TABLE'),
    ttlDays: positiveInt('PREDICTION_TTL_DAYS', 90),
    logShards: positiveInt('PREDICTION_LOG_SHARDS', 4),
    maxBatchRows: positiveInt('MAX_BATCH_ROWS', 1000),
    maxBodyBytes: positiveInt('MAX_BODY_BYTES', 1_048_576),
    metricsNamespace: env.POWERTOOLS_METRICS_NAMESPACE || 'modelgate',
    serviceName: env.POWERTOOLS_SERVICE_NAME || 'modelgate-inference',
    ...(env.PREDICTION_LOG_FALLBACK_FILE ? { fallbackFile: env.PREDICTION_LOG_FALLBACK_FILE } : {}),
  };
  if (problems.length > 0) throw new ConfigError(`invalid function environment: ${problems.join('; ')}`);
  return config;
}
