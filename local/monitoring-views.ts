// What the local dashboard shows of monitoring, per model version, as JSON-ready data: the sliding window the
// monitor reads now (drift per feature with its status, sample and reference-vs-current distribution, the
// prediction distribution, estimated quality with the realized values of the same windows), realized quality
// over the lookback, the same over time (one point per aggregation window: the sliding window ending there),
// the alarm thresholds and states, and the error-analysis slices from the prediction log. Computed with the
// monitor's own core and settings (its function's environment), from the monitoring table, never the log —
// except the slices, which need the labelled predictions themselves.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { ManifestStore } from '../lambdas/adapters/manifest-store';
import { MonitoringStore } from '../lambdas/adapters/monitoring-store';
import { queryLabelledPredictions } from '../lambdas/adapters/prediction-query';
import { join } from 'node:path';
import { monitoringConfigFromEnv, TIME_SCALE_VARIABLE, type MonitoringConfig } from '../lambdas/contracts/monitoring-environment';
import { windowDriftViews, type FeatureView } from '../lambdas/core/drift/feature-view';
import type { DriftStatus } from '../lambdas/core/drift/report';
import { ESTIMATED_METRICS, type EstimatedMetricName, type EstimatedQuality } from '../lambdas/core/estimation/estimated-quality';
import type { Manifest } from '../lambdas/core/manifest';
import { qualityAlarmKey, type Severity, type SeverityThresholds } from '../lambdas/core/monitoring/alarms';
import { errorAnalysis, type SliceErrors } from '../lambdas/core/monitoring/error-analysis';
import type { QualityMetricName, QualityMetrics } from '../lambdas/core/monitoring/quality';
import { monitorReport, versionReport } from '../lambdas/core/monitoring/report';
import { mergeMonitoringWindows, monitoredFeatures, slidingWindow, windowStartOf, type MonitoringWindow } from '../lambdas/core/monitoring/window';
import { versionAlarmPrefix } from '../lambdas/core/naming';
import type { MetricAlarm } from './alarms';
import type { LocalLambdaService } from './lambda-service';

/** The monitor's view at the end of one aggregation window: its sliding window ending there. */
export interface TimelinePoint {
  /** The end of the sliding window (the window's end, or now for the window in progress). */
  readonly at: string;
  readonly predictions: number;
  readonly labels: number;
  readonly driftShare: number | null;
  readonly driftStatus: DriftStatus | null;
  readonly predictionDrift: { readonly statistic: number | null; readonly status: DriftStatus } | null;
  /** Estimated accuracy / ROC AUC (CBPE) where they rest on enough rows, with their intervals. */
  readonly estimated: Partial<Record<EstimatedMetricName, { readonly value: number; readonly lower: number; readonly upper: number }>>;
  /** The realized values on the same windows, where enough labels have arrived. */
  readonly realized: Partial<Record<EstimatedMetricName, number>>;
}

export interface AlarmView {
  readonly name: string;
  /** `drift-share`, `feature-drift-Contract`, `estimated-roc-auc-drop`... */
  readonly metricKey: string;
  readonly severity: Severity;
  readonly state: string;
  readonly reason: string;
  readonly threshold: number;
}

export interface VersionMonitoring {
  readonly model: string;
  readonly version: string;
  readonly at: string;
  /** The sliding window the monitor reads now, in scaled minutes. */
  readonly window: { readonly from: string; readonly to: string; readonly minutes: number };
  readonly predictions: number;
  readonly drift: { readonly status: DriftStatus; readonly driftShare: number; readonly assessed: number } | null;
  /** Why there is no drift report (no baseline, too few predictions). */
  readonly driftSkipped?: string;
  /** Drifted first (furthest past its threshold first), then the others, then those without enough data. */
  readonly features: readonly FeatureView[];
  readonly prediction: FeatureView | null;
  readonly estimated: (EstimatedQuality & { readonly realized: Partial<Record<EstimatedMetricName, number>>; readonly labels: number }) | null;
  /** Realized quality over the quality lookback (labels arrive late). */
  readonly quality: { readonly from: string; readonly labels: number; readonly metrics: QualityMetrics | null; readonly skipped?: string };
  /** The holdout values quality is compared with. */
  readonly baseline: Partial<Record<QualityMetricName, number>>;
  readonly timeline: readonly TimelinePoint[];
  /** The version's alarms as deployed: the thresholds the charts draw, and their states now. */
  readonly thresholds: {
    readonly driftShare: SeverityThresholds;
    /** Drops below the holdout value (the chart draws holdout - drop). */
    readonly estimatedDrop: Partial<Record<EstimatedMetricName, SeverityThresholds>>;
    readonly realizedDrop: Partial<Record<EstimatedMetricName, SeverityThresholds>>;
  };
  readonly alarms: readonly AlarmView[];
  /** Error analysis of the labelled predictions in the timeline's span; null without a prediction log to read. */
  readonly errors: { readonly labelled: number; readonly wrong: number; readonly errorRate: number; readonly slices: Readonly<Record<string, readonly SliceErrors[]>> } | null;
}

export interface MonitoringViews {
  /** Model versions with windows, most recently seen first. */
  versions(): Promise<{ model: string; version: string; lastSeen: string }[]>;
  /** One version's monitoring, with a timeline over the last `minutes` (scaled minutes; default 360). */
  version(model: string, version: string, minutes?: number): Promise<VersionMonitoring>;
  /** Every version seen in the last `minutes`. */
  all(minutes?: number): Promise<VersionMonitoring[]>;
}

export interface MonitoringViewsOptions {
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
  /** The monitor's settings: its function's environment read as the function reads it (tables, windows, minimums, minute). */
  readonly config: MonitoringConfig;
  /** The deployment's name: the prefix of the version alarms. */
  readonly deployment: string;
  /** The alarms as they stand (LocalAlarms.describeAlarms). */
  readonly alarms?: () => readonly MetricAlarm[];
  /** Shards of the prediction log's byModelVersion index (the inference function's PREDICTION_LOG_SHARDS). @default 4 */
  readonly predictionLogShards?: number;
  readonly now?: () => number;
}

const DEFAULT_SPAN_MINUTES = 360;

export function monitoringViews(options: MonitoringViewsOptions): MonitoringViews {
  const { config } = options;
  const store = new MonitoringStore(options.dynamodb, config.monitoringTable);
  const manifests = new ManifestStore(options.s3, config.bucket, 5_000);
  const now = options.now ?? Date.now;
  const minute = config.minuteMs;
  const windowMs = config.windowMinutes * minute;
  const startOf = (ms: number) => windowStartOf(ms, config.windowMinutes, minute);
  const manifestOf = async (model: string, version: string) => {
    const manifest = await manifests.get(model, version);
    if ('reason' in manifest) throw new Error(manifest.reason);
    return manifest;
  };

  const version = async (model: string, version: string, minutes = DEFAULT_SPAN_MINUTES): Promise<VersionMonitoring> => {
    const manifest = await manifestOf(model, version);
    const at = now();
    const to = new Date(at).toISOString();
    const slidingMinutes = manifest.monitoring?.windowMinutes ?? config.driftWindowMinutes;
    const { from, count } = slidingWindow(at, slidingMinutes, config.windowMinutes, minute);
    const qualityFrom = startOf(at - config.qualityLookbackHours * 60 * minute);
    const spanFrom = startOf(at - minutes * minute);
    const oldest = [from, qualityFrom, new Date(Date.parse(spanFrom) - (count - 1) * windowMs).toISOString()].sort()[0] as string;
    const windows = await store.queryWindows(model, version, oldest, to);
    const recent = windows.filter((w) => w.windowStart >= from);
    const report = monitorReport(manifest, { recent, lookback: windows.filter((w) => w.windowStart >= qualityFrom) }, { from, to, qualityFrom }, config);
    const { features, prediction } = windowDriftViews(report.drift, manifest.baseline, mergeMonitoringWindows(manifest, recent).drift);
    const alarms = versionAlarms(options, model, version);
    return {
      model,
      version,
      at: to,
      window: { from, to, minutes: count * config.windowMinutes },
      predictions: report.predictions,
      drift: report.drift ? { status: report.drift.status, driftShare: report.drift.driftShare, assessed: report.drift.assessed } : null,
      ...(report.driftSkipped ? { driftSkipped: report.driftSkipped } : {}),
      features,
      prediction,
      estimated: report.estimated ? { ...report.estimated, realized: report.estimateCheck?.realized ?? {}, labels: report.estimateCheck?.labels ?? 0 } : null,
      quality: { from: qualityFrom, labels: report.labels, metrics: report.quality, ...(report.qualitySkipped ? { skipped: report.qualitySkipped } : {}) },
      baseline: report.baseline,
      timeline: timeline(manifest, windows, spanFrom, slidingMinutes, at, config),
      thresholds: thresholdsOf(alarms),
      alarms,
      errors: await errorSlices(options, manifest, spanFrom, to),
    };
  };

  return {
    async versions() {
      return (await store.listVersions()).sort((a, b) => (a.lastSeen < b.lastSeen ? 1 : -1));
    },
    version,
    async all(minutes = DEFAULT_SPAN_MINUTES) {
      const since = startOf(now() - minutes * minute);
      const seen = (await store.listVersions()).filter((v) => v.lastSeen >= since).sort((a, b) => `${a.model}\u0000${a.version}`.localeCompare(`${b.model}\u0000${b.version}`));
      return Promise.all(seen.map((v) => version(v.model, v.version, minutes)));
    },
  };
}

/** Per aggregation window in the span, what the monitor would have read at its end: the sliding window ending there. */
function timeline(manifest: Manifest, windows: readonly MonitoringWindow[], spanFrom: string, slidingMinutes: number, at: number, settings: MonitoringConfig): TimelinePoint[] {
  const windowMs = settings.windowMinutes * settings.minuteMs;
  const points: TimelinePoint[] = [];
  for (const window of windows) {
    if (window.windowStart < spanFrom) continue;
    const end = Date.parse(window.windowStart);
    const { from } = slidingWindow(end, slidingMinutes, settings.windowMinutes, settings.minuteMs);
    const slice = windows.filter((w) => w.windowStart >= from && w.windowStart <= window.windowStart);
    const pointAt = new Date(Math.min(at, end + windowMs)).toISOString();
    const report = versionReport(manifest, slice, { from, to: pointAt }, settings);
    const estimated: TimelinePoint['estimated'] = {};
    const realized: TimelinePoint['realized'] = {};
    for (const metric of ESTIMATED_METRICS) {
      const value = report.estimated?.estimated[metric];
      const interval = report.estimated?.interval[metric];
      if (value !== undefined && interval && report.estimated?.samples[metric]?.enough) estimated[metric] = { value, lower: interval.lower, upper: interval.upper };
      const actual = report.quality?.[metric];
      if (actual !== undefined && report.quality?.samples?.[metric]?.enough !== false) realized[metric] = actual;
    }
    const predictionDrift = report.drift?.prediction;
    points.push({
      at: pointAt,
      predictions: report.predictions,
      labels: report.labels,
      driftShare: report.drift && report.drift.status !== 'not-enough-data' ? report.drift.driftShare : null,
      driftStatus: report.drift?.status ?? null,
      predictionDrift: predictionDrift ? { statistic: predictionDrift.statistic, status: predictionDrift.status } : null,
      estimated,
      realized,
    });
  }
  return points;
}

function versionAlarms(options: MonitoringViewsOptions, model: string, version: string): AlarmView[] {
  const prefix = versionAlarmPrefix(options.deployment, model, version);
  return (options.alarms?.() ?? [])
    .filter((alarm) => alarm.AlarmName.startsWith(prefix))
    .flatMap((alarm) => {
      const match = /^(.+)-(warning|critical)$/.exec(alarm.AlarmName.slice(prefix.length));
      if (!match) return [];
      return [
        { name: alarm.AlarmName, metricKey: match[1] as string, severity: match[2] as Severity, state: alarm.StateValue, reason: alarm.StateReason, threshold: alarm.Threshold },
      ];
    });
}

function thresholdsOf(alarms: readonly AlarmView[]): VersionMonitoring['thresholds'] {
  const levels = (key: string): SeverityThresholds => Object.fromEntries(alarms.filter((a) => a.metricKey === key).map((a) => [a.severity, a.threshold]));
  const drops = (kind: 'realized' | 'estimated') =>
    Object.fromEntries(ESTIMATED_METRICS.map((metric) => [metric, levels(qualityAlarmKey(metric, kind))]).filter(([, l]) => Object.keys(l as object).length > 0));
  return { driftShare: levels('drift-share'), estimatedDrop: drops('estimated'), realizedDrop: drops('realized') };
}

/** Error rate per slice of every monitored feature, from the labelled predictions in [from, to). */
async function errorSlices(options: MonitoringViewsOptions, manifest: Manifest, from: string, to: string): Promise<VersionMonitoring['errors']> {
  if (!options.config.predictionTable) return null;
  const records = await queryLabelledPredictions(options.dynamodb, options.config.predictionTable, {
    model: manifest.name,
    version: manifest.version,
    from,
    to,
    shards: options.predictionLogShards ?? 4,
  });
  const overall = errorAnalysis(manifest, records);
  const slices = Object.fromEntries(monitoredFeatures(manifest).map((feature) => [feature, errorAnalysis(manifest, records, feature).slices]));
  return { labelled: overall.labelled, wrong: overall.wrong, errorRate: overall.errorRate, slices };
}

/**
 * The views of a running local stack, with the monitor function's settings read as the function reads them
 * (its environment and the runtime's time scale); undefined when the stack has no monitor.
 */
export function monitoringViewsOfStack(options: {
  readonly lambda: LocalLambdaService;
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
  readonly deployment: string;
  readonly timeScale: number;
  readonly alarms: () => readonly MetricAlarm[];
}): MonitoringViews | undefined {
  const functions = options.lambda.listFunctions();
  const monitor = functions.find((f) => f.entry.endsWith(join('lambdas', 'handlers', 'monitor.ts')));
  if (!monitor) return undefined;
  const environment = { ...monitor.environment, ...(options.timeScale !== 1 ? { [TIME_SCALE_VARIABLE]: String(options.timeScale) } : {}) };
  const shards = functions.find((f) => f.environment.PREDICTION_LOG_SHARDS !== undefined)?.environment.PREDICTION_LOG_SHARDS;
  return monitoringViews({
    dynamodb: options.dynamodb,
    s3: options.s3,
    config: monitoringConfigFromEnv(environment, ['bucket', 'monitoringTable']),
    deployment: options.deployment,
    alarms: options.alarms,
    ...(shards ? { predictionLogShards: Number(shards) } : {}),
  });
}
