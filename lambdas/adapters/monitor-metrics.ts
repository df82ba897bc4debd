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
  const metrics = new Metrics({ namespace, serviceName: MONITOR_SERVICE, defaultDimensions: { model, version } });
  metrics.setTimestamp(at);
  const byFeature = new Map<string, MetricDatum[]>();
  for (const datum of data) {
    if (datum.feature === undefined) metrics.addMetric(datum.name, unit(datum), datum.value);
    else byFeature.set(datum.feature, [...(byFeature.get(datum.feature) ?? []), datum]);
  }
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  for (const [feature, featureData] of byFeature) {
    const single = metrics.singleMetric();
    single.addDimension('feature', feature);
    single.setTimestamp(at);
    // A single-metric instance publishes at each addMetric: one EMF line per value, with the feature dimension.
    for (const datum of featureData) single.addMetric(datum.name, unit(datum), datum.value);
    if (single.hasStoredMetrics()) single.publishStoredMetrics();
  }
}

function unit(datum: MetricDatum): (typeof MetricUnit)[keyof typeof MetricUnit] {
  return datum.unit === 'Count' ? MetricUnit.Count : MetricUnit.NoUnit;
}
