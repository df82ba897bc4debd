// Metric definitions, apart from alarm wiring (as cdk-monitoring-constructs does): CloudWatch metric objects
// for the specs in lambdas/core/monitoring/alarms.ts, with exactly the dimensions the functions emit.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { DEFAULT_MONITOR_PERIOD_SECONDS, METRIC, MONITOR_SERVICE, SERVING_SERVICE, type AlarmSpec, type MetricRef } from '../../lambdas/core/monitoring/alarms';

/** A CloudWatch metric for a metric reference of an alarm spec. */
export function metricOf(ref: MetricRef, label?: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: ref.namespace,
    metricName: ref.metricName,
    dimensionsMap: { ...ref.dimensions },
    statistic: ref.statistic,
    period: Duration.seconds(ref.periodSeconds),
    ...(label ? { label } : {}),
  });
}

/** The metric (or metric-math expression) an alarm spec watches. */
export function alarmMetricOf(spec: AlarmSpec): cloudwatch.IMetric {
  const metric = spec.metric;
  if ('expression' in metric) {
    return new cloudwatch.MathExpression({
      expression: metric.expression,
      label: metric.label,
      usingMetrics: Object.fromEntries(Object.entries(metric.metrics).map(([id, ref]) => [id, metricOf(ref)])),
      period: Duration.seconds(metric.periodSeconds),
    });
  }
  return metricOf(metric);
}

/** The metrics of one model version, for dashboards. */
export class VersionMetrics {
  constructor(
    /** The deployment's metrics namespace (core/naming.ts). */
    readonly namespace: string,
    readonly model: string,
    readonly version: string,
    /** The monitor's period: one datapoint per run. */
    private readonly monitorPeriod: Duration = Duration.seconds(DEFAULT_MONITOR_PERIOD_SECONDS),
  ) {}

  private serving(metricName: string, statistic: string, period = Duration.minutes(1)): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName,
      dimensionsMap: { service: SERVING_SERVICE, model: this.model, version: this.version },
      statistic,
      period,
      label: `v${this.version} ${metricName}`,
    });
  }

  monitor(metricName: string, extra: Record<string, string> = {}, label?: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName,
      dimensionsMap: { service: MONITOR_SERVICE, model: this.model, version: this.version, ...extra },
      statistic: 'Maximum',
      period: this.monitorPeriod,
      label: label ?? `v${this.version} ${metricName}`,
    });
  }

  predictions(): cloudwatch.Metric {
    return this.serving(METRIC.predictions, 'Sum');
  }

  errorRate(): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: 'FILL(errors, 0) / requests',
      label: `v${this.version} error rate`,
      usingMetrics: { errors: this.serving(METRIC.errors, 'Sum'), requests: this.serving(METRIC.requests, 'Sum') },
      period: Duration.minutes(1),
    });
  }

  latencyP99(): cloudwatch.Metric {
    return this.serving(METRIC.latency, 'p99');
  }

  logFallbacks(): cloudwatch.Metric {
    return this.serving(METRIC.logFallbacks, 'Sum', Duration.minutes(5));
  }

  driftShare(): cloudwatch.Metric {
    return this.monitor(METRIC.driftShare);
  }

  featureDriftStatistic(feature: string): cloudwatch.Metric {
    return this.monitor(METRIC.featureDriftStatistic, { feature }, `v${this.version} ${feature}`);
  }
}
