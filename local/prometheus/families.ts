// The local runtime's state as Prometheus metric families (docs/monitoring.md, "Prometheus and Grafana"):
// the CloudWatch metrics the functions emit (totals since start: counters and duration histograms from the
// inference function, the monitor's last readings as gauges), the requests the local API answered, alarm
// states and alias routing weights. Pure: plain data in, families out. Named per Prometheus conventions
// (`modelgate_` prefix, snake case, base units, `_total` on counters), labelled `model` and `version`.
import type { MetricAlarm } from '../alarms';
import type { ModelView } from '../dashboard';
import { ESTIMATED_METRICS } from '../../lambdas/core/estimation/estimated-quality';
import { degradationMetricName, estimatedMetricName, METRIC, MONITOR_SERVICE, QUALITY_METRIC_NAMES, SERVING_SERVICE } from '../../lambdas/core/monitoring/alarms';
import type { QualityMetricName } from '../../lambdas/core/monitoring/quality';
import { ServingMetrics } from '../../lambdas/adapters/metrics';
import type { HistogramSample, LabelSet, MetricFamily, ValueSample } from './exposition';
import { DURATION_BUCKETS_SECONDS, unitsPerSecond, type RequestTotal, type SeriesTotal } from './totals';

interface FamilyDefinition {
  readonly name: string;
  readonly type: MetricFamily['type'];
  readonly help: string;
  readonly unit?: string;
}

const family = (name: string, type: FamilyDefinition['type'], help: string, unit?: string): FamilyDefinition => ({ name, type, help, ...(unit ? { unit } : {}) });

/** Every family /metrics can serve, in the order it serves them. */
export const METRIC_FAMILIES = {
  requestDuration: family(
    'modelgate_request_duration_seconds',
    'histogram',
    'Time from the local API receiving a request to the function answering it, by route and status code (model and version for a model function).',
    'seconds',
  ),
  predictions: family('modelgate_predictions', 'counter', 'Rows predicted (a request of n instances counts n).'),
  requests: family('modelgate_requests', 'counter', 'Invocations of the inference function, answered or failed (the error rate is errors / requests).'),
  errors: family('modelgate_errors', 'counter', 'Server-side failures of the inference function, by kind (client errors apart).'),
  clientErrors: family('modelgate_client_errors', 'counter', 'Requests refused as the client got them wrong (4xx), by kind.'),
  modelLatency: family('modelgate_model_latency_seconds', 'histogram', 'Time the model took to run (the inference session alone).', 'seconds'),
  logWriteLatency: family('modelgate_log_write_latency_seconds', 'histogram', 'Time to write the prediction log records of a request.', 'seconds'),
  logFallbacks: family('modelgate_log_fallbacks', 'counter', 'Prediction records written to the fallback file instead of the table.'),
  shadowCompared: family('modelgate_shadow_compared', 'counter', 'Rows a shadow version predicted beside the champion.'),
  shadowAgreed: family('modelgate_shadow_agreed', 'counter', "Rows on which a shadow version agreed with the champion's answer."),
  predictedClass: family('modelgate_predicted_class', 'counter', 'Predictions by predicted class (the class as in the CloudWatch metric name).'),
  driftShare: family('modelgate_drift_share', 'gauge', "Share of monitored features that drifted in the monitor's last sliding window."),
  datasetDrift: family('modelgate_dataset_drift', 'gauge', 'Whether the dataset drifted in the last window (1) or not (0).'),
  predictionDrift: family('modelgate_prediction_drift', 'gauge', 'Whether the prediction distribution drifted in the last window (1) or not (0).'),
  predictionDriftStatistic: family('modelgate_prediction_drift_statistic', 'gauge', "The prediction distribution's drift statistic in the last window."),
  featureDrift: family('modelgate_feature_drift', 'gauge', 'Whether a feature drifted in the last window (1) or not (0).'),
  featureDriftStatistic: family('modelgate_feature_drift_statistic', 'gauge', "A feature's drift statistic (distance or test statistic) in the last window."),
  featureDriftPValue: family('modelgate_feature_drift_p_value', 'gauge', "A feature's drift test p-value in the last window (tests only)."),
  windowPredictions: family('modelgate_monitor_window_predictions', 'gauge', "Predictions in the monitor's last sliding window."),
  windowLabels: family('modelgate_monitor_window_labels', 'gauge', 'Labelled predictions in the quality lookback at the last run.'),
  windowSkipped: family('modelgate_monitor_window_skipped_records', 'gauge', 'Records the aggregator could not count (inputs outside the baseline) in the last window.'),
  quality: family('modelgate_quality', 'gauge', 'Quality at the last monitor run: realized (from labels) or estimated (CBPE, before labels), by metric.'),
  qualityDrop: family('modelgate_quality_drop', 'gauge', 'How far quality is below the holdout value (positive = worse), realized or estimated, by metric.'),
  alarmState: family('modelgate_alarm_state', 'gauge', 'CloudWatch alarm state: 1 for the state the alarm is in, 0 for the others.'),
  routingWeight: family('modelgate_routing_weight', 'gauge', "Share of an alias's invocations routed to a function version (the model version it serves)."),
} as const satisfies Record<string, FamilyDefinition>;

type FamilyKey = keyof typeof METRIC_FAMILIES;

const ALARM_STATES = ['OK', 'ALARM', 'INSUFFICIENT_DATA'] as const;

/** `rocAuc` -> `roc_auc`: the `metric` label of the quality gauges. */
function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** The CloudWatch metrics each family reads: name -> family, the dimension beyond service/model/version it needs, and labels it adds. */
interface SeriesRule {
  readonly family: FamilyKey;
  /** The one extra dimension the series must carry, turned into this label (`errorKind` -> `kind`). */
  readonly dimension?: { readonly name: string; readonly label: string };
  readonly labels?: LabelSet;
}

const SERVING_RULES: ReadonlyMap<string, SeriesRule> = new Map([
  [METRIC.predictions, { family: 'predictions' }],
  [METRIC.requests, { family: 'requests' }],
  [METRIC.errors, { family: 'errors', dimension: { name: 'errorKind', label: 'kind' } }],
  [METRIC.clientErrors, { family: 'clientErrors', dimension: { name: 'errorKind', label: 'kind' } }],
  [METRIC.latency, { family: 'modelLatency' }],
  ['LogWriteLatency', { family: 'logWriteLatency' }],
  [METRIC.logFallbacks, { family: 'logFallbacks' }],
  ['ShadowCompared', { family: 'shadowCompared' }],
  ['ShadowAgreed', { family: 'shadowAgreed' }],
]);

const feature = { name: 'feature', label: 'feature' };
const MONITOR_RULES: ReadonlyMap<string, SeriesRule> = new Map<string, SeriesRule>([
  [METRIC.driftShare, { family: 'driftShare' }],
  [METRIC.datasetDrift, { family: 'datasetDrift' }],
  [METRIC.predictionDrift, { family: 'predictionDrift' }],
  [METRIC.predictionDriftStatistic, { family: 'predictionDriftStatistic' }],
  [METRIC.featureDrift, { family: 'featureDrift', dimension: feature }],
  [METRIC.featureDriftStatistic, { family: 'featureDriftStatistic', dimension: feature }],
  [METRIC.featureDriftPValue, { family: 'featureDriftPValue', dimension: feature }],
  [METRIC.monitoredPredictions, { family: 'windowPredictions' }],
  [METRIC.labelledPredictions, { family: 'windowLabels' }],
  [METRIC.skippedRecords, { family: 'windowSkipped' }],
  ...(Object.keys(QUALITY_METRIC_NAMES) as QualityMetricName[]).flatMap((metric): [string, SeriesRule][] => [
    [QUALITY_METRIC_NAMES[metric], { family: 'quality', labels: { metric: snakeCase(metric), kind: 'realized' } }],
    [degradationMetricName(metric), { family: 'qualityDrop', labels: { metric: snakeCase(metric), kind: 'realized' } }],
  ]),
  ...ESTIMATED_METRICS.flatMap((metric): [string, SeriesRule][] => [
    [estimatedMetricName(metric), { family: 'quality', labels: { metric: snakeCase(metric), kind: 'estimated' } }],
    [degradationMetricName(metric, 'estimated'), { family: 'qualityDrop', labels: { metric: snakeCase(metric), kind: 'estimated' } }],
  ]),
]);

const PREDICTED_CLASS_PREFIX = ServingMetrics.classMetricName('');

export interface RuntimeMetrics {
  /** The deployment's metrics namespace (core/naming.ts metricsNamespace): other namespaces are not served. */
  readonly namespace: string;
  readonly series: readonly SeriesTotal[];
  readonly requests: readonly RequestTotal[];
  readonly alarms: readonly MetricAlarm[];
  /** The model functions with their aliases and versions (local/dashboard.ts modelsView). */
  readonly models: readonly ModelView[];
}

/** The families with at least one sample, in METRIC_FAMILIES' order. */
export function metricFamilies(input: RuntimeMetrics): MetricFamily[] {
  const samples = new Map<FamilyKey, (ValueSample | HistogramSample)[]>();
  const add = (key: FamilyKey, sample: ValueSample | HistogramSample) => samples.set(key, [...(samples.get(key) ?? []), sample]);

  const modelOf = new Map(input.models.map((m) => [m.functionName, { model: m.model, bundles: new Map(m.versions.map((v) => [v.lambdaVersion, v.bundle])) }]));
  for (const request of input.requests) {
    const served = modelOf.get(request.functionName);
    const bundle = served?.bundles.get(request.executedVersion);
    const labels = { route: request.route, code: String(request.statusCode), ...(served && bundle ? { model: served.model, version: bundle } : {}) };
    add('requestDuration', histogram(labels, request, 1));
  }

  for (const series of input.series) {
    if (series.namespace !== input.namespace) continue;
    const { service, model, version, ...extra } = series.dimensions;
    if (model === undefined || version === undefined) continue;
    const rules = service === SERVING_SERVICE ? SERVING_RULES : service === MONITOR_SERVICE ? MONITOR_RULES : undefined;
    let rule = rules?.get(series.metricName);
    if (!rule && service === SERVING_SERVICE && series.metricName.startsWith(PREDICTED_CLASS_PREFIX)) {
      rule = { family: 'predictedClass', labels: { class: series.metricName.slice(PREDICTED_CLASS_PREFIX.length) } };
    }
    if (!rule) continue;
    // Exactly the dimension set the rule reads: CloudWatch keeps each set apart (Errors also goes out without errorKind, a total).
    const extraNames = Object.keys(extra);
    if (extraNames.length !== (rule.dimension ? 1 : 0) || (rule.dimension && extraNames[0] !== rule.dimension.name)) continue;
    const labels = { model, version, ...rule.labels, ...(rule.dimension ? { [rule.dimension.label]: extra[rule.dimension.name] as string } : {}) };
    const definition = METRIC_FAMILIES[rule.family];
    if (definition.type === 'histogram') {
      const perSecond = unitsPerSecond(series.unit);
      if (perSecond !== undefined && series.buckets) add(rule.family, histogram(labels, { ...series, buckets: series.buckets }, perSecond));
    } else add(rule.family, { labels, value: definition.type === 'counter' ? series.sum : series.last });
  }

  for (const alarm of input.alarms) {
    const dimensions = alarm.Dimensions.length > 0 ? alarm.Dimensions : (alarm.Metrics?.find((m) => m.MetricStat)?.MetricStat?.Metric.Dimensions ?? []);
    const model = dimensions.find((d) => d.Name === 'model')?.Value;
    const version = dimensions.find((d) => d.Name === 'version')?.Value;
    for (const state of ALARM_STATES) {
      add('alarmState', { labels: { alarm: alarm.AlarmName, ...(model ? { model } : {}), ...(version ? { version } : {}), state }, value: alarm.StateValue === state ? 1 : 0 });
    }
  }

  for (const model of input.models) {
    for (const alias of model.aliases) {
      for (const route of alias.routing) {
        add('routingWeight', {
          labels: { model: model.model, version: route.bundle, function: model.functionName, alias: alias.name, lambda_version: route.lambdaVersion },
          value: route.weight,
        });
      }
    }
  }

  return (Object.keys(METRIC_FAMILIES) as FamilyKey[]).flatMap((key) => {
    const familySamples = samples.get(key);
    return familySamples ? [{ ...METRIC_FAMILIES[key], samples: familySamples } as MetricFamily] : [];
  });
}

function histogram(labels: LabelSet, distribution: { count: number; sum: number; buckets: readonly number[] }, perSecond: number): HistogramSample {
  return {
    labels,
    buckets: DURATION_BUCKETS_SECONDS.map((le, i) => ({ le, count: distribution.buckets[i] as number })),
    count: distribution.count,
    sum: distribution.sum / perSecond,
  };
}
