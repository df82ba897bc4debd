import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { MONITOR_SERVICE } from '../core/monitoring/alarms';
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
  // One EMF document per dimension set: a Powertools single-metric instance drops its added dimension and
  // timestamp after its first line, so each feature gets a Metrics of its own instead.
  for (const [feature, featureData] of byFeature) {
    const metrics = new Metrics({ namespace, serviceName: MONITOR_SERVICE, defaultDimensions: { model, version, ...(feature === undefined ? {} : { feature }) } });
    metrics.setTimestamp(at);
    for (const datum of featureData) metrics.addMetric(datum.name, unit(datum), datum.value);
    metrics.publishStoredMetrics();
  }
}

function unit(datum: MetricDatum): (typeof MetricUnit)[keyof typeof MetricUnit] {
  return datum.unit === 'Count' ? MetricUnit.Count : MetricUnit.NoUnit;
}
