// The alarms of one model version, as plain data: names, metrics (with exactly the dimensions the functions
// emit), thresholds by severity. The promotion pipeline turns them into PutMetricAlarm calls for each version it
// publishes and deletes them when the version leaves traffic; no stack holds a version's alarms
// (docs/monitoring.md).
import { emptyEstimation, ESTIMATED_METRICS, type EstimatedMetricName } from '../estimation/estimated-quality';
import type { Manifest } from '../manifest-types';
import { alarmName, batchAlarmName, metricsNamespace, modelFunctionName } from '../naming';
import type { QualityMetricName } from './quality';

/** `service` dimension of the inference function's EMF (POWERTOOLS_SERVICE_NAME, set by lib/functions/modelgate-function.ts). */
export const SERVING_SERVICE = 'inference';
/** `service` dimension of the monitor's EMF. */
export const MONITOR_SERVICE = 'monitor';
/** `service` dimension of the batch job function's EMF: one datapoint per finished job (docs/batch.md, "Monitoring"). */
export const BATCH_SERVICE = 'batch';

/** Metric names, as emitted. */
export const METRIC = {
  // inference function (lambdas/adapters/metrics.ts)
  predictions: 'Predictions',
  requests: 'Requests',
  /** Server-side failures only (model, bundle, log and fallback): client errors are `ClientErrors`. */
  errors: 'Errors',
  /** 4xx answers: watched by no alarm, so bad requests cannot roll a version back. */
  clientErrors: 'ClientErrors',
  latency: 'Latency',
  logFallbacks: 'LogFallbacks',
  // monitor (lambdas/core/monitoring/report.ts)
  monitoredPredictions: 'MonitoredPredictions',
  labelledPredictions: 'LabelledPredictions',
  skippedRecords: 'SkippedRecords',
  driftShare: 'DriftShare',
  datasetDrift: 'DatasetDrift',
  predictionDrift: 'PredictionDrift',
  predictionDriftStatistic: 'PredictionDriftStatistic',
  featureDrift: 'FeatureDrift',
  featureDriftStatistic: 'FeatureDriftStatistic',
  featureDriftPValue: 'FeatureDriftPValue',
  // batch job function, summarize step (lambdas/core/batch/summary.ts): the job's drift against the baseline
  batchDriftShare: 'BatchDriftShare',
  batchDatasetDrift: 'BatchDatasetDrift',
  batchPredictionDrift: 'BatchPredictionDrift',
} as const;

/** Lambda's own metrics (namespace `AWS/Lambda`, dimension `FunctionName`), which Lambda emits for every function. */
export const LAMBDA_NAMESPACE = 'AWS/Lambda';
/** Invocations Lambda refused because the function (or the account) had no concurrency left: API Gateway answered 500. */
export const LAMBDA_THROTTLES = 'Throttles';

export type Severity = 'warning' | 'critical';
export const SEVERITIES: readonly Severity[] = ['warning', 'critical'];

/** A threshold per severity; a severity left out gets no alarm. */
export type SeverityThresholds = Partial<Record<Severity, number>>;

export interface AlarmThresholds {
  /** Share of drifted features in the monitor's period (>=). */
  readonly driftShare: SeverityThresholds;
  /** Per-feature drift flag (>= 1 means the feature drifted in the period): the features alarmed on. */
  readonly featureDrift: { readonly features: readonly string[]; readonly severity: Severity };
  /** The prediction distribution drifted (flag). */
  readonly predictionDrift?: Severity;
  /** Degradation against the validation baseline (baseline - current for accuracy-like metrics; >=). */
  readonly qualityDegradation: Readonly<Partial<Record<QualityMetricName, SeverityThresholds>>>;
  /**
   * Drop of the estimated quality (CBPE, before labels) below the holdout value: holdout - estimate (>=).
   * Set per bundle in the manifest (`monitoring.estimatedQualityDrop`, `estimatedQualityThresholds`).
   * @default DEFAULT_ESTIMATED_QUALITY_DROP
   */
  readonly estimatedQualityDegradation?: Readonly<Partial<Record<EstimatedMetricName, SeverityThresholds>>>;
  /** Errors / Requests of the inference function (server-side failures; client errors are not errors here), per minute, 3 of 5 minutes (>=). */
  readonly errorRate: SeverityThresholds;
  /** p99 of the model run time in ms, per minute, 3 of 5 minutes (>=). */
  readonly latencyP99Ms: SeverityThresholds;
  /** Prediction records written to the fallback instead of the table, per 5 minutes (>=). */
  readonly logFallbacks: SeverityThresholds;
  /**
   * Invocations of the model's function that Lambda throttled (each one a 500 to the client), per minute, 3 of 5
   * minutes (>=). Lambda counts them per function, not per version: every version in traffic has this alarm.
   * @default DEFAULT_ALARM_THRESHOLDS.throttles
   */
  readonly throttles?: SeverityThresholds;
  /** How often the monitor runs, in seconds: the period of the drift and quality alarms. @default DEFAULT_MONITOR_PERIOD_SECONDS */
  readonly monitorPeriodSeconds?: number;
  /**
   * M of N for the monitor's alarms: ALARM when `datapointsToAlarm` of the last `evaluationPeriods` monitor
   * runs breach, so one noisy run does not page. @default DEFAULT_MONITOR_EVALUATION
   */
  readonly monitorEvaluation?: AlarmEvaluationSettings;
}

export interface AlarmEvaluationSettings {
  /** N. */
  readonly evaluationPeriods: number;
  /** M, at most N. */
  readonly datapointsToAlarm: number;
}

/** The monitor runs every 5 minutes (docs/monitoring.md, "How fast a page comes"). */
export const DEFAULT_MONITOR_PERIOD_SECONDS = 300;
/** 2 of the last 3 runs: one breaching run alone never pages, one missed run does not hold a page back. */
export const DEFAULT_MONITOR_EVALUATION: AlarmEvaluationSettings = { evaluationPeriods: 3, datapointsToAlarm: 2 };
/** Estimated accuracy or ROC AUC 0.05 (warning) or 0.10 (critical) below the holdout value, as for realized quality. */
export const DEFAULT_ESTIMATED_QUALITY_DROP: Readonly<Partial<Record<EstimatedMetricName, SeverityThresholds>>> = {
  accuracy: { warning: 0.05, critical: 0.1 },
  rocAuc: { warning: 0.05, critical: 0.1 },
};

export const DEFAULT_ALARM_THRESHOLDS: AlarmThresholds = {
  driftShare: { warning: 0.25, critical: 0.5 },
  featureDrift: { features: [], severity: 'warning' },
  predictionDrift: 'warning',
  qualityDegradation: { accuracy: { warning: 0.05, critical: 0.1 }, rocAuc: { warning: 0.05, critical: 0.1 } },
  estimatedQualityDegradation: DEFAULT_ESTIMATED_QUALITY_DROP,
  errorRate: { warning: 0.01, critical: 0.05 },
  latencyP99Ms: { warning: 250, critical: 1000 },
  logFallbacks: { warning: 1, critical: 100 },
  // A warning only: throttling is capacity (reserved or account concurrency), not the version, so it must not
  // roll a canary back (the bake watches critical alarms).
  throttles: { warning: 1 },
};

export interface MetricRef {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /** 'Sum', 'Maximum', 'Average' or a percentile such as 'p99'. */
  readonly statistic: string;
  readonly periodSeconds: number;
}

export interface AlarmSpec {
  /** `<deployment>/<model>/v<version>/<metric>-<severity>`, or `<deployment>/<model>/batch/<metric>-<severity>` (core/naming.ts). */
  readonly name: string;
  readonly description: string;
  readonly model: string;
  /** Absent for the model's batch alarms, which watch every version's jobs. */
  readonly version?: string;
  /** The short metric key in the name, e.g. `drift-share`, `feature-drift-Contract`, `error-rate`. */
  readonly metricKey: string;
  readonly severity: Severity;
  /** A single metric, or a metric-math expression over `metrics` (ids as in the expression). */
  readonly metric: MetricRef | { readonly expression: string; readonly label: string; readonly metrics: Readonly<Record<string, MetricRef>>; readonly periodSeconds: number };
  readonly comparison: 'GreaterThanOrEqualToThreshold';
  readonly threshold: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  /** No data (no traffic, no labels yet) is not a reason to page. */
  readonly treatMissingData: 'notBreaching';
}

/** Feature names go into alarm names: keep letters, digits, '.', '_' and '-'. */
export function metricKeyOfFeature(feature: string): string {
  return `feature-drift-${feature.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

const QUALITY_KEYS: Readonly<Record<QualityMetricName, string>> = {
  accuracy: 'accuracy',
  precision: 'precision',
  recall: 'recall',
  f1: 'f1',
  rocAuc: 'roc-auc',
  logLoss: 'log-loss',
  calibrationError: 'calibration-error',
  mae: 'mae',
  rmse: 'rmse',
  r2: 'r2',
};

/** The `<metric>` of a quality alarm's name: `accuracy-drop`, `roc-auc-drop`, `estimated-roc-auc-drop`... */
export function qualityAlarmKey(metric: QualityMetricName, kind: 'realized' | 'estimated' = 'realized'): string {
  return `${kind === 'estimated' ? 'estimated-' : ''}${QUALITY_KEYS[metric]}-drop`;
}

/** Metric names of the quality metrics; `<name>Degradation` is how much worse than the baseline (positive = worse). */
export const QUALITY_METRIC_NAMES: Readonly<Record<QualityMetricName, string>> = {
  accuracy: 'Accuracy',
  precision: 'Precision',
  recall: 'Recall',
  f1: 'F1',
  rocAuc: 'RocAuc',
  logLoss: 'LogLoss',
  calibrationError: 'CalibrationError',
  mae: 'MAE',
  rmse: 'RMSE',
  r2: 'R2',
};

/** `<Metric>Degradation`, or `Estimated<Metric>Degradation` for the estimate (positive = worse than the baseline). */
export function degradationMetricName(metric: QualityMetricName, kind: 'realized' | 'estimated' = 'realized'): string {
  return `${kind === 'estimated' ? estimatedMetricName(metric) : QUALITY_METRIC_NAMES[metric]}Degradation`;
}

/** `Estimated<Metric>`: the metric estimated from the probabilities before labels arrive (CBPE). */
export function estimatedMetricName(metric: QualityMetricName): string {
  return `Estimated${QUALITY_METRIC_NAMES[metric]}`;
}

/**
 * The estimated-quality alarm thresholds of one bundle: its manifest's `monitoring.estimatedQualityDrop`,
 * or the defaults; none for a model whose quality cannot be estimated (a regression, or no probabilities
 * output), whose estimated metrics are never emitted.
 */
export function estimatedQualityThresholds(manifest: Manifest): Partial<AlarmThresholds> {
  if (!emptyEstimation(manifest)) return { estimatedQualityDegradation: {} };
  return { estimatedQualityDegradation: manifest.monitoring?.estimatedQualityDrop ?? DEFAULT_ESTIMATED_QUALITY_DROP };
}

/**
 * Every alarm of one model version. Drift and quality alarms read the monitor's metrics (one datapoint
 * per monitor run, Maximum over the monitor's period, M of N runs: 2 of 3 by default); serving alarms read
 * the inference function's (per minute, 3 of 5 for error rate and latency; Sum per 5 minutes for log fallbacks).
 */
export function versionAlarmSpecs(deployment: string, model: string, version: string, thresholds: AlarmThresholds = DEFAULT_ALARM_THRESHOLDS): AlarmSpec[] {
  const namespace = metricsNamespace(deployment);
  const monitorPeriod = thresholds.monitorPeriodSeconds ?? DEFAULT_MONITOR_PERIOD_SECONDS;
  const monitorEvaluation = thresholds.monitorEvaluation ?? DEFAULT_MONITOR_EVALUATION;
  const monitorDimensions = { service: MONITOR_SERVICE, model, version };
  const servingDimensions = { service: SERVING_SERVICE, model, version };
  const monitorMetric = (metricName: string, extra: Record<string, string> = {}): MetricRef => ({
    namespace,
    metricName,
    dimensions: { ...monitorDimensions, ...extra },
    statistic: 'Maximum',
    periodSeconds: monitorPeriod,
  });
  const servingMetric = (metricName: string, statistic: string, periodSeconds: number): MetricRef => ({
    namespace,
    metricName,
    dimensions: servingDimensions,
    statistic,
    periodSeconds,
  });
  const specs: AlarmSpec[] = [];
  const add = (
    metricKey: string,
    severity: Severity,
    threshold: number,
    metric: AlarmSpec['metric'],
    what: string,
    evaluation: { evaluationPeriods: number; datapointsToAlarm: number } = { evaluationPeriods: 1, datapointsToAlarm: 1 },
  ) =>
    specs.push({
      name: alarmName(deployment, model, version, metricKey, severity),
      description: `${severity.toUpperCase()}: ${model} v${version}: ${what} >= ${threshold}`,
      model,
      version,
      metricKey,
      severity,
      metric,
      comparison: 'GreaterThanOrEqualToThreshold',
      threshold,
      ...evaluation,
      treatMissingData: 'notBreaching',
    });
  const bySeverity = (levels: SeverityThresholds, each: (severity: Severity, threshold: number) => void) => {
    for (const severity of SEVERITIES) {
      const threshold = levels[severity];
      if (threshold !== undefined) each(severity, threshold);
    }
  };

  bySeverity(thresholds.driftShare, (severity, threshold) =>
    add('drift-share', severity, threshold, monitorMetric(METRIC.driftShare), 'share of drifted features', monitorEvaluation),
  );
  for (const feature of thresholds.featureDrift.features) {
    add(metricKeyOfFeature(feature), thresholds.featureDrift.severity, 1, monitorMetric(METRIC.featureDrift, { feature }), `drift of feature ${feature} (0/1)`, monitorEvaluation);
  }
  if (thresholds.predictionDrift) {
    add('prediction-drift', thresholds.predictionDrift, 1, monitorMetric(METRIC.predictionDrift), 'drift of the prediction distribution (0/1)', monitorEvaluation);
  }
  for (const [metric, levels] of Object.entries(thresholds.qualityDegradation) as [QualityMetricName, SeverityThresholds][]) {
    bySeverity(levels, (severity, threshold) =>
      add(qualityAlarmKey(metric), severity, threshold, monitorMetric(degradationMetricName(metric)), `${metric} below the validation baseline by`, monitorEvaluation),
    );
  }
  const estimated = thresholds.estimatedQualityDegradation ?? DEFAULT_ESTIMATED_QUALITY_DROP;
  for (const [metric, levels] of Object.entries(estimated) as [EstimatedMetricName, SeverityThresholds][]) {
    bySeverity(levels, (severity, threshold) =>
      add(
        qualityAlarmKey(metric, 'estimated'),
        severity,
        threshold,
        monitorMetric(degradationMetricName(metric, 'estimated')),
        `${metric} estimated from the probabilities (no labels) below the holdout value by`,
        monitorEvaluation,
      ),
    );
  }
  const perMinute = { evaluationPeriods: 5, datapointsToAlarm: 3 };
  bySeverity(thresholds.errorRate, (severity, threshold) =>
    add(
      'error-rate',
      severity,
      threshold,
      {
        // Requests is emitted once per invocation, errors included; no requests is no data.
        expression: 'FILL(errors, 0) / requests',
        label: 'error rate',
        metrics: { errors: servingMetric(METRIC.errors, 'Sum', 60), requests: servingMetric(METRIC.requests, 'Sum', 60) },
        periodSeconds: 60,
      },
      'error rate (Errors / Requests)',
      perMinute,
    ),
  );
  bySeverity(thresholds.latencyP99Ms, (severity, threshold) =>
    add('latency-p99', severity, threshold, servingMetric(METRIC.latency, 'p99', 60), 'p99 model latency (ms)', perMinute),
  );
  bySeverity(thresholds.logFallbacks, (severity, threshold) =>
    add('log-fallbacks', severity, threshold, servingMetric(METRIC.logFallbacks, 'Sum', 300), 'prediction records sent to the log fallback per 5 minutes'),
  );
  const throttles: MetricRef = {
    namespace: LAMBDA_NAMESPACE,
    metricName: LAMBDA_THROTTLES,
    dimensions: { FunctionName: modelFunctionName(deployment, model) },
    statistic: 'Sum',
    periodSeconds: 60,
  };
  bySeverity(thresholds.throttles ?? DEFAULT_ALARM_THRESHOLDS.throttles ?? {}, (severity, threshold) =>
    add('throttles', severity, threshold, throttles, "invocations of the model's function Lambda throttled (500 to the client) per minute", perMinute),
  );
  return specs;
}

/**
 * A batch job's drift is one datapoint (Maximum over 5 minutes): long enough that the datapoint, emitted as EMF
 * when the job ends, is still in the evaluation range when CloudWatch Logs has turned it into a metric.
 */
export const BATCH_ALARM_PERIOD_SECONDS = 300;

/**
 * The batch alarms of one model, for jobs of any of its versions (a job may score a version that takes no
 * traffic): the online drift thresholds (share of drifted features per severity, the prediction distribution),
 * on the summarize step's metrics. One job is one datapoint, so one breaching job pages; missing data (no job)
 * is not breaching, so the alarm returns to OK once the job's datapoint leaves the evaluation range.
 */
export function batchAlarmSpecs(deployment: string, model: string, thresholds: AlarmThresholds = DEFAULT_ALARM_THRESHOLDS): AlarmSpec[] {
  const metric = (metricName: string): MetricRef => ({
    namespace: metricsNamespace(deployment),
    metricName,
    dimensions: { service: BATCH_SERVICE, model },
    statistic: 'Maximum',
    periodSeconds: BATCH_ALARM_PERIOD_SECONDS,
  });
  const spec = (metricKey: string, severity: Severity, threshold: number, metricName: string, what: string): AlarmSpec => ({
    name: batchAlarmName(deployment, model, metricKey, severity),
    description: `${severity.toUpperCase()}: ${model}, a batch job: ${what} >= ${threshold} (the job's _SUCCESS.json has the per-feature report)`,
    model,
    metricKey,
    severity,
    metric: metric(metricName),
    comparison: 'GreaterThanOrEqualToThreshold',
    threshold,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    treatMissingData: 'notBreaching',
  });
  const specs: AlarmSpec[] = [];
  for (const severity of SEVERITIES) {
    const threshold = thresholds.driftShare[severity];
    if (threshold !== undefined) specs.push(spec('drift-share', severity, threshold, METRIC.batchDriftShare, 'share of drifted features'));
  }
  if (thresholds.predictionDrift) {
    specs.push(spec('prediction-drift', thresholds.predictionDrift, 1, METRIC.batchPredictionDrift, 'drift of the prediction distribution (0/1)'));
  }
  return specs;
}

/** Problems with a thresholds config (each with the offending value); empty when it is sound. */
export function thresholdProblems(thresholds: AlarmThresholds): string[] {
  const problems: string[] = [];
  const check = (name: string, levels: SeverityThresholds, range: [number, number]) => {
    for (const severity of SEVERITIES) {
      const value = levels[severity];
      if (value === undefined) continue;
      if (!(Number.isFinite(value) && value >= range[0] && value <= range[1])) {
        problems.push(`${name}.${severity} must be a number in [${range[0]}, ${range[1]}], got: ${JSON.stringify(value)}`);
      }
    }
    const { warning, critical } = levels;
    if (warning !== undefined && critical !== undefined && critical < warning) {
      problems.push(`${name}.critical must be at least ${name}.warning (${warning}), got: ${critical}`);
    }
  };
  check('driftShare', thresholds.driftShare, [0, 1]);
  check('errorRate', thresholds.errorRate, [0, 1]);
  check('latencyP99Ms', thresholds.latencyP99Ms, [0, 900_000]);
  check('logFallbacks', thresholds.logFallbacks, [0, Number.MAX_SAFE_INTEGER]);
  if (thresholds.throttles !== undefined) check('throttles', thresholds.throttles, [0, Number.MAX_SAFE_INTEGER]);
  for (const [metric, levels] of Object.entries(thresholds.qualityDegradation)) {
    if (!Object.hasOwn(QUALITY_KEYS, metric)) problems.push(`qualityDegradation.${metric} is not a quality metric (${Object.keys(QUALITY_KEYS).join(', ')})`);
    else check(`qualityDegradation.${metric}`, levels as SeverityThresholds, [0, Number.MAX_SAFE_INTEGER]);
  }
  for (const [metric, levels] of Object.entries(thresholds.estimatedQualityDegradation ?? {})) {
    if (!(ESTIMATED_METRICS as readonly string[]).includes(metric))
      problems.push(`estimatedQualityDegradation.${metric} is not an estimated metric (${ESTIMATED_METRICS.join(', ')})`);
    else check(`estimatedQualityDegradation.${metric}`, levels as SeverityThresholds, [0, 1]);
  }
  const period = thresholds.monitorPeriodSeconds;
  if (period !== undefined && !(Number.isInteger(period) && period >= 60 && period % 60 === 0)) {
    problems.push(`monitorPeriodSeconds must be a whole number of minutes in seconds (>= 60), got: ${period}`);
  }
  const evaluation = thresholds.monitorEvaluation;
  if (evaluation !== undefined) {
    const { evaluationPeriods: n, datapointsToAlarm: m } = evaluation;
    if (!(Number.isInteger(n) && n >= 1)) problems.push(`monitorEvaluation.evaluationPeriods must be a whole number >= 1, got: ${n}`);
    else if (!(Number.isInteger(m) && m >= 1 && m <= n)) problems.push(`monitorEvaluation.datapointsToAlarm must be a whole number in [1, evaluationPeriods (${n})], got: ${m}`);
    // CloudWatch: an alarm with a period under an hour may look back at most one day.
    else if ((period ?? DEFAULT_MONITOR_PERIOD_SECONDS) * n > 86_400) {
      problems.push(`monitorEvaluation.evaluationPeriods x monitorPeriodSeconds must be at most one day (86400 s), got: ${n} x ${period ?? DEFAULT_MONITOR_PERIOD_SECONDS}`);
    }
  }
  return problems;
}
