import { EnvReader } from './environment';
import { DEFAULT_WINDOW_MINUTES } from '../core/monitoring/window';

/** Environment of the feedback, aggregator and monitor functions (each reads what it needs). */
export interface MonitoringConfig {
  /** Bucket of the model bundles: manifests are read from `models/<model>/<version>/manifest.json`. */
  readonly bucket: string;
  readonly predictionTable: string;
  readonly monitoringTable: string;
  readonly windowMinutes: number;
  /** Days a window item is kept (TTL). */
  readonly windowTtlDays: number;
  /** The monitor's drift period (and the alarms' period). */
  readonly periodMinutes: number;
  /** How far back the monitor looks for labelled predictions: labels arrive late. */
  readonly qualityLookbackHours: number;
  readonly minPredictions: number;
  readonly minLabels: number;
  readonly metricsNamespace: string;
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
    periodMinutes: positiveInt('MONITOR_PERIOD_MINUTES', 60),
    qualityLookbackHours: positiveInt('QUALITY_LOOKBACK_HOURS', 24),
    minPredictions: positiveInt('MIN_PREDICTIONS', 100),
    minLabels: positiveInt('MIN_LABELS', 30),
    metricsNamespace: read.required('POWERTOOLS_METRICS_NAMESPACE'),
  };
  if (config.periodMinutes % config.windowMinutes !== 0) {
    read.problem(`MONITOR_PERIOD_MINUTES (${config.periodMinutes}) must be a multiple of WINDOW_MINUTES (${config.windowMinutes})`);
  }
  read.throwIfAny();
  return config;
}
