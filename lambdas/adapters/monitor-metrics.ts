import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { BATCH_SERVICE, MONITOR_SERVICE } from '../core/monitoring/alarms';
import type { MetricDatum } from '../core/monitoring/report';

/**
 * Emits a monitor report's metrics as CloudWatch EMF through Powertools: dimensions service (`monitor`),
 * model and version, plus feature for per-feature drift — exactly the dimensions the alarms
 * (lambdas/core/monitoring/alarms.ts) name. One EMF document for the version-level metrics, one per feature.
 *
 * Timestamped at the run, the end of the sliding window the values describe: an alarm evaluating the last
 * few periods (CloudWatch's default sliding evaluation window ends at the evaluation) sees each run's values
 * at its next evaluation, and each run lands in a period of its own (docs/monitoring.md, "How fast a page comes").
 */
export function emitMonitorMetrics(model: string, version: string, data: readonly MetricDatum[], at: Date, namespace: string): void {
  const byFeature = new Map<string | undefined, MetricDatum[]>();
  for (const datum of data) byFeature.set(datum.feature, [...(byFeature.get(datum.feature) ?? []), datum]);
  for (const [feature, featureData] of byFeature) {
    publish(namespace, MONITOR_SERVICE, { model, version, ...(feature === undefined ? {} : { feature }) }, featureData, at);
  }
}

/**
 * Emits a finished batch job's metrics (core/batch/summary.ts, batchMetrics) as EMF: once per model — what the
 * model's batch alarms watch, whatever version the job scored — and once per model and version, for graphs.
 */
export function emitBatchMetrics(model: string, version: string, data: readonly MetricDatum[], at: Date, namespace: string): void {
  if (data.length === 0) return;
  const dimensionSets: Readonly<Record<string, string>>[] = [{ model }, { model, version }];
  for (const dimensions of dimensionSets) publish(namespace, BATCH_SERVICE, dimensions, data, at);
}

/**
 * One EMF document per dimension set: a Powertools single-metric instance drops its added dimension and
 * timestamp after its first line, so each set gets a Metrics of its own instead.
 */
function publish(namespace: string, service: string, dimensions: Readonly<Record<string, string>>, data: readonly MetricDatum[], at: Date): void {
  const metrics = new Metrics({ namespace, serviceName: service, defaultDimensions: { ...dimensions } });
  metrics.setTimestamp(at);
  for (const datum of data) metrics.addMetric(datum.name, unit(datum), datum.value);
  metrics.publishStoredMetrics();
}

function unit(datum: MetricDatum): (typeof MetricUnit)[keyof typeof MetricUnit] {
  return datum.unit === 'Count' ? MetricUnit.Count : MetricUnit.NoUnit;
}
