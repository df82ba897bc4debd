import { EnvReader } from './environment';
import { DEFAULT_WINDOW_MINUTES, MINUTE_MS } from '../core/monitoring/window';

/** Minutes of traffic drift, prediction drift and estimated quality cover when the manifest does not say. */
export const DEFAULT_DRIFT_WINDOW_MINUTES = 60;

/**
 * Set by the local runtime only (`npm start -- --time-scale x`): the monitoring functions then count a minute
 * as 60/x seconds, so windows, the drift window and the quality lookback shrink with the schedules and the
 * alarms. Unset on AWS.
 */
export const TIME_SCALE_VARIABLE = 'MODELGATE_TIME_SCALE';

/** Environment of the feedback, aggregator and monitor functions (each reads what it needs). */
export interface MonitoringConfig {
  /** Bucket of the model bundles: manifests are read from `models/<model>/<version>/manifest.json`. */
  readonly bucket: string;
  readonly predictionTable: string;
  readonly monitoringTable: string;
  readonly windowMinutes: number;
  /** Days a window item is kept (TTL). */
  readonly windowTtlDays: number;
  /** Minutes of the sliding window drift and estimated quality cover, unless the manifest sets its own. */
  readonly driftWindowMinutes: number;
  /** How far back the monitor looks for labelled predictions: labels arrive late. */
  readonly qualityLookbackHours: number;
  readonly minPredictions: number;
  readonly minLabels: number;
  readonly metricsNamespace: string;
  /** The length of a minute in ms: 60000 on AWS, 60000 / time scale in the local runtime. */
  readonly minuteMs: number;
}

export function monitoringConfigFromEnv(env: NodeJS.ProcessEnv, needs: readonly ('bucket' | 'predictionTable' | 'monitoringTable')[]): MonitoringConfig {
  const read = new EnvReader(env);
  const named = { bucket: 'MODEL_BUCKET', predictionTable: 'PREDICTION_TABLE', monitoringTable: 'MONITORING_TABLE' } as const;
  for (const need of needs) read.required(named[need]);
  const positiveInt = (name: string, fallback: number): number => read.integer(name, fallback);
  const config: MonitoringConfig = {
    bucket: env.MODEL_BUCKET ?? '',
    predictionTable: env.PREDICTION_TABLE ?? '',
    monitoringTable: env.MONITORING_TABLE ?? '',
    windowMinutes: positiveInt('WINDOW_MINUTES', DEFAULT_WINDOW_MINUTES),
    windowTtlDays: positiveInt('WINDOW_TTL_DAYS', 400),
    driftWindowMinutes: positiveInt('DRIFT_WINDOW_MINUTES', DEFAULT_DRIFT_WINDOW_MINUTES),
    qualityLookbackHours: positiveInt('QUALITY_LOOKBACK_HOURS', 24),
    minPredictions: positiveInt('MIN_PREDICTIONS', 100),
    minLabels: positiveInt('MIN_LABELS', 30),
    metricsNamespace: read.required('POWERTOOLS_METRICS_NAMESPACE'),
    minuteMs: scaledMinute(read, env[TIME_SCALE_VARIABLE]),
  };
  read.throwIfAny();
  return config;
}

/** A minute under the time scale, in whole milliseconds (so window starts stay whole milliseconds). */
export function scaledMinuteMs(timeScale: number): number {
  return Math.max(1, Math.round(MINUTE_MS / timeScale));
}

function scaledMinute(read: EnvReader, raw: string | undefined): number {
  if (raw === undefined || raw === '') return MINUTE_MS;
  const scale = Number(raw);
  if (!(Number.isFinite(scale) && scale > 0 && scale <= 3600)) {
    read.problem(`${TIME_SCALE_VARIABLE} must be a number in (0, 3600], got: ${raw}`);
    return MINUTE_MS;
  }
  return scaledMinuteMs(scale);
}
