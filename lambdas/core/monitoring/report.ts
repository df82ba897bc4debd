// The scheduled monitor's report for one model version over one period (the merge of its windows), and
// the CloudWatch metrics it emits. Pure: the windows come from the monitoring table, the manifest from S3.
import { driftReportFromAggregates, driftSettings, type DriftReport } from '../drift/report';
import { ESTIMATED_METRICS, estimateQuality, type EstimatedMetricName, type EstimatedQuality } from '../estimation/estimated-quality';
import type { Manifest } from '../manifest-types';
import { baselineQuality, qualityDegradation, qualityMetrics, type QualityMetricName, type QualityMetrics } from './quality';
import { mergeMonitoringWindows, type MonitoringWindow } from './window';
import { degradationMetricName, estimatedMetricName, METRIC, QUALITY_METRIC_NAMES } from './alarms';

export interface MonitorSettings {
  /** Below this many predictions in the period the drift report is not computed (too noisy). @default 100 */
  readonly minPredictions?: number;
  /** Below this many labelled predictions quality is not computed. @default 30 */
  readonly minLabels?: number;
}

export const DEFAULT_MIN_PREDICTIONS = 100;
export const DEFAULT_MIN_LABELS = 30;

export interface VersionReport {
  readonly model: string;
  readonly version: string;
  /** The period [from, to) the windows cover. */
  readonly from: string;
  readonly to: string;
  readonly windows: number;
  readonly predictions: number;
  readonly labels: number;
  /** Changes the aggregator could not count (inputs that do not fit the baseline). */
  readonly skipped: number;
  /** Null when the manifest has no baseline or the period has too few predictions (`reason` says which). */
  readonly drift: DriftReport | null;
  readonly driftSkipped?: string;
  readonly quality: QualityMetrics | null;
  readonly qualitySkipped?: string;
  /** Start of the labelled period when it is longer than the drift period (the monitor's quality lookback). */
  readonly qualityFrom?: string;
  /** The validation baseline (holdout metrics in the manifest) and how much worse the period is (positive = worse). */
  readonly baseline: Partial<Record<QualityMetricName, number>>;
  readonly degradation: Partial<Record<QualityMetricName, number>>;
  /**
   * Quality estimated from the period's predictions without labels (CBPE); null for a model without
   * probabilities. Its degradation against the same baseline, for the metrics with enough rows.
   */
  readonly estimated: EstimatedQuality | null;
  readonly estimatedDegradation: Partial<Record<EstimatedMetricName, number>>;
  /**
   * The realized values of the estimated metrics over the same windows as the estimate, from the labels that
   * have arrived for those predictions (only metrics resting on enough labels): how good the estimate was.
   * Set by `monitorReport`, whose quality covers a longer lookback than its estimate.
   */
  readonly estimateCheck?: { readonly labels: number; readonly realized: Partial<Record<EstimatedMetricName, number>> };
}

export function versionReport(
  manifest: Manifest,
  windows: readonly MonitoringWindow[],
  period: { readonly from: string; readonly to: string },
  settings: MonitorSettings = {},
): VersionReport {
  const merged = mergeMonitoringWindows(manifest, windows);
  const minPredictions = settings.minPredictions ?? DEFAULT_MIN_PREDICTIONS;
  const minLabels = settings.minLabels ?? DEFAULT_MIN_LABELS;
  let drift: DriftReport | null = null;
  let driftSkipped: string | undefined;
  if (!manifest.baseline || !merged.drift) driftSkipped = 'the manifest has no baseline';
  else if (merged.predictions < minPredictions) driftSkipped = `${merged.predictions} predictions, fewer than ${minPredictions}`;
  else drift = driftReportFromAggregates(manifest.baseline, merged.drift, { settings: driftSettings(manifest.features) });
  let quality: QualityMetrics | null = null;
  let qualitySkipped: string | undefined;
  if (merged.labels < minLabels) qualitySkipped = `${merged.labels} labelled predictions, fewer than ${minLabels}`;
  else quality = qualityMetrics(merged.quality);
  const baseline = baselineQuality(manifest);
  const estimation = merged.quality.kind === 'classification' ? merged.quality.estimation : undefined;
  const estimated = estimation ? estimateQuality(estimation) : null;
  return {
    model: manifest.name,
    version: manifest.version,
    from: period.from,
    to: period.to,
    windows: merged.windows,
    predictions: merged.predictions,
    labels: merged.labels,
    skipped: merged.skipped,
    drift,
    ...(driftSkipped ? { driftSkipped } : {}),
    quality,
    ...(qualitySkipped ? { qualitySkipped } : {}),
    baseline,
    degradation: quality ? qualityDegradation(quality, baseline) : {},
    estimated,
    estimatedDegradation: estimated ? estimatedDegradation(estimated, baseline) : {},
  };
}

/**
 * What a monitor run reports for one model version. Drift, prediction drift and estimated quality cover the
 * sliding window (`recent`: the newest windows): they need no labels, so they can follow the traffic as
 * closely as the window allows. Realized quality covers the quality lookback (`lookback`, which includes
 * `recent`): labels arrive late and count in their prediction's window. Beside the estimate, the realized
 * values on the same windows (`estimateCheck`) once labels for them are in.
 */
export function monitorReport(
  manifest: Manifest,
  windows: { readonly recent: readonly MonitoringWindow[]; readonly lookback: readonly MonitoringWindow[] },
  period: { readonly from: string; readonly to: string; readonly qualityFrom: string },
  settings: MonitorSettings = {},
): VersionReport {
  const recent = versionReport(manifest, windows.recent, period, settings);
  const lookback = versionReport(manifest, windows.lookback, { from: period.qualityFrom, to: period.to }, settings);
  const { qualitySkipped: _recentQualitySkipped, quality: recentQuality, ...drift } = recent;
  const realized: Partial<Record<EstimatedMetricName, number>> = {};
  for (const metric of ESTIMATED_METRICS) {
    const value = recentQuality?.[metric];
    if (value !== undefined && recentQuality?.samples?.[metric]?.enough !== false) realized[metric] = value;
  }
  return {
    ...drift,
    labels: lookback.labels,
    qualityFrom: period.qualityFrom,
    quality: lookback.quality,
    ...(lookback.qualitySkipped ? { qualitySkipped: lookback.qualitySkipped } : {}),
    degradation: lookback.degradation,
    ...(recent.estimated ? { estimateCheck: { labels: recent.labels, realized } } : {}),
  };
}

/** baseline - estimate (higher is better for every estimated metric), where the estimate rests on enough rows. */
function estimatedDegradation(estimated: EstimatedQuality, baseline: Partial<Record<QualityMetricName, number>>): Partial<Record<EstimatedMetricName, number>> {
  const degradation: Partial<Record<EstimatedMetricName, number>> = {};
  for (const name of ESTIMATED_METRICS) {
    const value = estimated.estimated[name];
    const reference = baseline[name];
    if (value !== undefined && reference !== undefined && estimated.samples[name]?.enough) degradation[name] = reference - value;
  }
  return degradation;
}

/** One CloudWatch metric value; `feature` adds the per-feature dimension. */
export interface MetricDatum {
  readonly name: string;
  readonly value: number;
  readonly unit: 'Count' | 'None';
  readonly feature?: string;
}

/**
 * A drift report's verdicts as metrics under `names` — its drift share, whether the dataset drifted, whether
 * the predictions did — as the drift alarms watch them (the monitor's per version, the batch jobs' per model).
 * A verdict without enough data emits nothing: an absent datapoint is not breaching, so no page.
 */
export function driftVerdictMetrics(drift: DriftReport, names: { readonly driftShare: string; readonly datasetDrift: string; readonly predictionDrift: string }): MetricDatum[] {
  const data: MetricDatum[] = [];
  if (drift.status !== 'not-enough-data') {
    data.push({ name: names.driftShare, value: drift.driftShare, unit: 'None' });
    data.push({ name: names.datasetDrift, value: drift.datasetDrift ? 1 : 0, unit: 'None' });
  }
  if (drift.prediction && drift.prediction.status !== 'not-enough-data') {
    data.push({ name: names.predictionDrift, value: drift.prediction.drifted ? 1 : 0, unit: 'None' });
  }
  return data;
}

/**
 * The metrics of a report, dimensioned by model and version by the emitter (and by feature where set).
 * Drift flags are 0/1 so one alarm threshold fits every method (p-value tests and distances alike); the
 * statistics go out too, for dashboards.
 */
export function reportMetrics(report: VersionReport): MetricDatum[] {
  const data: MetricDatum[] = [
    { name: METRIC.monitoredPredictions, value: report.predictions, unit: 'Count' },
    { name: METRIC.labelledPredictions, value: report.labels, unit: 'Count' },
    { name: METRIC.skippedRecords, value: report.skipped, unit: 'Count' },
  ];
  if (report.drift) {
    data.push(...driftVerdictMetrics(report.drift, { driftShare: METRIC.driftShare, datasetDrift: METRIC.datasetDrift, predictionDrift: METRIC.predictionDrift }));
    const prediction = report.drift.prediction;
    if (prediction && prediction.status !== 'not-enough-data' && prediction.statistic !== null) {
      data.push({ name: METRIC.predictionDriftStatistic, value: prediction.statistic, unit: 'None' });
    }
    for (const [feature, drift] of Object.entries(report.drift.features)) {
      if (drift.status === 'not-enough-data') continue;
      data.push({ name: METRIC.featureDrift, value: drift.drifted ? 1 : 0, unit: 'None', feature });
      if (drift.statistic !== null) data.push({ name: METRIC.featureDriftStatistic, value: drift.statistic, unit: 'None', feature });
      if (drift.pValue !== null) data.push({ name: METRIC.featureDriftPValue, value: drift.pValue, unit: 'None', feature });
    }
  }
  if (report.quality) {
    for (const [metric, name] of Object.entries(QUALITY_METRIC_NAMES) as [QualityMetricName, string][]) {
      const value = report.quality[metric];
      if (report.quality.samples?.[metric]?.enough === false) continue;
      if (value !== undefined && Number.isFinite(value)) data.push({ name, value, unit: 'None' });
    }
    for (const [metric, value] of Object.entries(report.degradation) as [QualityMetricName, number][]) {
      if (Number.isFinite(value)) data.push({ name: degradationMetricName(metric), value, unit: 'None' });
    }
  }
  if (report.estimated) {
    for (const metric of ESTIMATED_METRICS) {
      const value = report.estimated.estimated[metric];
      if (value === undefined || !report.estimated.samples[metric]?.enough) continue;
      data.push({ name: estimatedMetricName(metric), value, unit: 'None' });
      const degradation = report.estimatedDegradation[metric];
      if (degradation !== undefined) data.push({ name: degradationMetricName(metric, 'estimated'), value: degradation, unit: 'None' });
    }
  }
  return data;
}
