import { Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { degradationMetricName, METRIC, QUALITY_METRIC_NAMES } from '../../lambdas/core/monitoring/alarms';
import { metricsNamespace } from '../../lambdas/core/naming';
import { VersionMetrics } from './monitoring-metrics';

export interface MonitoringDashboardProps {
  /** The model versions to show, with the features whose drift to chart. */
  readonly versions: readonly { readonly model: string; readonly version: string; readonly features: readonly string[] }[];
  /** @default 'modelgate' */
  readonly dashboardName?: string;
}

/** One CloudWatch dashboard: per model version, traffic and health, then drift and quality. */
export class MonitoringDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringDashboardProps) {
    super(scope, id);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: props.dashboardName });
    for (const { model, version, features } of props.versions) {
      const metrics = new VersionMetrics(metricsNamespace(Stack.of(this).stackName), model, version);
      this.dashboard.addWidgets(
        new cloudwatch.TextWidget({ markdown: `## ${model} v${version}`, width: 24, height: 1 }),
        new cloudwatch.GraphWidget({ title: 'Predictions / min', left: [metrics.predictions()], width: 6 }),
        new cloudwatch.GraphWidget({ title: 'Error rate', left: [metrics.errorRate()], width: 6 }),
        new cloudwatch.GraphWidget({ title: 'p99 latency (ms)', left: [metrics.latencyP99()], width: 6 }),
        new cloudwatch.GraphWidget({ title: 'Log fallbacks', left: [metrics.logFallbacks()], width: 6 }),
        new cloudwatch.GraphWidget({
          title: 'Drift share and prediction drift',
          left: [metrics.driftShare(), metrics.monitor(METRIC.predictionDrift)],
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: 'Drift statistic per feature',
          left: features.map((feature) => metrics.featureDriftStatistic(feature)),
          width: 8,
        }),
        new cloudwatch.GraphWidget({
          title: 'Quality',
          left: (['accuracy', 'rocAuc', 'f1', 'calibrationError'] as const).map((name) => metrics.monitor(QUALITY_METRIC_NAMES[name])),
          right: (['accuracy', 'rocAuc'] as const).map((name) => metrics.monitor(degradationMetricName(name))),
          width: 8,
        }),
      );
    }
  }
}
