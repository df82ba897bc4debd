import { Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { MONITOR_SERVICE, SERVING_SERVICE } from '../../lambdas/core/monitoring/alarms';
import { metricsNamespace } from '../../lambdas/core/naming';

export interface MonitoringDashboardProps {
  /** @default the deployment's name */
  readonly dashboardName?: string;
}

/**
 * The deployment's CloudWatch dashboard: every model and version it serves, found with SEARCH expressions over
 * the `model` and `version` dimensions, so models that arrive by upload appear without a deploy. Each model's
 * own stack adds a dashboard of that model (lib/serving/model-stack.ts).
 */
export class MonitoringDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringDashboardProps) {
    super(scope, id);
    const deployment = Stack.of(this).stackName;
    const namespace = metricsNamespace(deployment);
    const search = (service: string, metric: string, stat: string, period = 300) =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${namespace},service,model,version} service="${service}" MetricName="${metric}"', '${stat}', ${period})`,
        label: '',
        usingMetrics: {},
      });
    const graph = (title: string, service: string, metric: string, stat: string, width = 8) =>
      new cloudwatch.GraphWidget({ title, left: [search(service, metric, stat)], width, height: 6 });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? deployment,
      widgets: [
        [new cloudwatch.TextWidget({ markdown: `## ${deployment}: every model and version`, width: 24, height: 1 })],
        [
          graph('Predictions / 5 min', SERVING_SERVICE, 'Predictions', 'Sum'),
          graph('Errors / 5 min', SERVING_SERVICE, 'Errors', 'Sum'),
          graph('p99 latency (ms)', SERVING_SERVICE, 'Latency', 'p99'),
        ],
        [graph('Drift share', MONITOR_SERVICE, 'DriftShare', 'Maximum', 12), graph('Log fallbacks', SERVING_SERVICE, 'LogFallbacks', 'Sum', 12)],
      ],
    });
  }
}
