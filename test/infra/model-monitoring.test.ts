// Monitoring off the request path (feedback, the stream aggregator, the scheduled monitor) and the deployment's
// dashboard. The version alarms are plain data (lambdas/core/monitoring/alarms.ts, tested in test/core) that the
// pipeline creates per version; here: the metrics they watch are emitted where and as they expect.
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { MONITOR_SERVICE, SERVING_SERVICE, versionAlarmSpecs } from '../../lambdas/core/monitoring/alarms';
import { ModelApi } from '../../lib/api/model-api';
import { ModelMonitoring, type ModelMonitoringProps } from '../../lib/monitoring/model-monitoring';
import { MonitoringDashboard } from '../../lib/monitoring/monitoring-dashboard';
import { ModelBucket } from '../../lib/storage/model-bucket';
import { ModelRegistryTable } from '../../lib/storage/model-registry-table';
import { PredictionLogTable } from '../../lib/storage/prediction-log-table';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import type { CfnTemplate } from '../../local/template';
import { ACCOUNT, deployed, REGION } from './deployed';
import { functionWithEntry, grants, roleOf, roleStatements, thrownBy } from './support';
import { readDashboard, sections, type Panel } from '../support/grafana-dashboard';

function monitoringStack(overrides: Partial<ModelMonitoringProps> = {}, options: { api?: boolean } = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'modelgate-dev', { env: { account: ACCOUNT, region: REGION } });
  const bucket = new ModelBucket(stack, 'ModelBucket');
  const log = new PredictionLogTable(stack, 'PredictionLog');
  const monitoring = new ModelMonitoring(stack, 'Monitoring', { predictionTable: log.table, modelBucket: bucket.bucket, modelBucketKey: bucket.encryptionKey, ...overrides });
  if (options.api) new ModelApi(stack, 'Api', { registryTable: new ModelRegistryTable(stack, 'Registry').table, feedbackFunction: monitoring.feedbackFunction });
  const template = Template.fromStack(stack);
  return { stack, monitoring, template, raw: template.toJSON() as CfnTemplate };
}

describe('ModelMonitoring', () => {
  const { template, raw } = monitoringStack();
  const dev = deployed(raw, { stackName: 'modelgate-dev' });
  const only = (type: string, props: object = {}) => {
    const ids = Object.keys(template.findResources(type, props));
    expect(ids, type).toHaveLength(1);
    return ids[0] as string;
  };

  it('creates the monitoring table: pk/sk, on demand, TTL on expiresAt', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('feeds the aggregator from the prediction stream in batches of 100, one shard batch at a time, with a tumbling window; a poison record is bisected out and reported', () => {
    const aggregator = functionWithEntry(raw, 'aggregator');
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: aggregator },
      EventSourceArn: { 'Fn::GetAtt': [only('AWS::DynamoDB::Table', { Properties: { KeySchema: [{ AttributeName: 'predictionId', KeyType: 'HASH' }] } }), 'StreamArn'] },
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 30,
      TumblingWindowInSeconds: 60,
      ParallelizationFactor: 1,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      StartingPosition: 'TRIM_HORIZON',
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
      FilterCriteria: {
        Filters: [
          { Pattern: '{"eventName":["INSERT"]}' },
          { Pattern: '{"eventName":["MODIFY"],"dynamodb":{"NewImage":{"actual":{"S":[{"exists":true}]}}}}' },
          { Pattern: '{"eventName":["MODIFY"],"dynamodb":{"NewImage":{"actual":{"N":[{"exists":true}]}}}}' },
        ],
      },
    });
  });

  it('runs the monitor every 5 minutes over a sliding hour by default, with a dead-letter queue', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [functionWithEntry(raw, 'monitor'), 'Arn'] }, DeadLetterConfig: Match.anyValue(), RetryPolicy: { MaximumRetryAttempts: 2 } }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^modelgate: scheduled'),
      Environment: { Variables: Match.objectLike({ WINDOW_MINUTES: '5', DRIFT_WINDOW_MINUTES: '60', QUALITY_LOOKBACK_HOURS: '24' }) },
    });
    const configured = monitoringStack({ monitorPeriod: Duration.minutes(15), driftWindow: Duration.minutes(30) }).template;
    configured.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
    configured.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ DRIFT_WINDOW_MINUTES: '30' }) } });
  });

  it('grants each function only what it does, manifests read through S3 only', () => {
    const bucket = dev.arn(only('AWS::S3::Bucket', { Properties: { VersioningConfiguration: { Status: 'Enabled' } } }));
    const key = dev.arn(only('AWS::KMS::Key'));
    const predictions = dev.arn(only('AWS::DynamoDB::Table', { Properties: { KeySchema: [{ AttributeName: 'predictionId', KeyType: 'HASH' }] } }));
    const windows = dev.arn(only('AWS::DynamoDB::Table', { Properties: { KeySchema: Match.arrayWith([{ AttributeName: 'pk', KeyType: 'HASH' }]) } }));
    const deadLetters = dev.arn(only('AWS::SQS::Queue'));
    const of = (handler: string) => {
      const fn = functionWithEntry(raw, handler);
      const logs = dev.arn((raw.Resources[fn]?.Properties?.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref);
      const shared = [
        `logs:CreateLogStream on ${logs}`,
        `logs:PutLogEvents on ${logs}`,
        'xray:PutTraceSegments on *',
        'xray:PutTelemetryRecords on *',
        `s3:GetObject on ${bucket}/models/*/manifest.json`,
        `kms:Decrypt on ${key} if {"StringEquals":{"kms:ViaService":"s3.${REGION}.amazonaws.com"}}`,
      ];
      return { own: grants(dev, roleStatements(raw, roleOf(raw, fn))), shared };
    };
    const feedback = of('feedback');
    // Labels by a pass-through key: the join-key index, and the served versions' manifests (which declare the key).
    expect(feedback.own).toEqual(
      [
        ...feedback.shared,
        `dynamodb:BatchGetItem on ${predictions}`,
        `dynamodb:UpdateItem on ${predictions}`,
        `dynamodb:Query on ${predictions}/index/byJoinKey`,
        `s3:ListBucket on ${bucket} if {"StringLike":{"s3:prefix":"models/*"}}`,
      ].sort(),
    );
    const monitor = of('monitor');
    expect(monitor.own).toEqual([...monitor.shared, `dynamodb:Query on ${windows}`, `sqs:SendMessage on ${deadLetters}`].sort());
    const aggregator = of('aggregator');
    expect(aggregator.own).toEqual(
      [
        ...aggregator.shared,
        `dynamodb:GetItem on ${windows}`,
        `dynamodb:PutItem on ${windows}`,
        ...['DescribeStream', 'GetRecords', 'GetShardIterator'].map((action) => `dynamodb:${action} on ${predictions}/stream/2025-01-01T00:00:00.000`),
        'dynamodb:ListStreams on *',
        ...['SendMessage', 'GetQueueAttributes', 'GetQueueUrl'].map((action) => `sqs:${action} on ${deadLetters}`),
      ].sort(),
    );
  });

  it('marks each function with its source entry for the local runtime', () => {
    for (const entry of ['feedback', 'aggregator', 'monitor']) expect(() => functionWithEntry(raw, entry)).not.toThrow();
  });

  it("emits the monitor's metrics where the version alarms look: the deployment's namespace, the monitor service", () => {
    const [drift] = versionAlarmSpecs('modelgate-dev', 'churn', '1').filter((spec) => spec.metricKey === 'drift-share');
    expect(drift?.metric).toMatchObject({ namespace: 'modelgate-dev', dimensions: { service: MONITOR_SERVICE } });
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'modelgate-dev-monitor',
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: MONITOR_SERVICE, POWERTOOLS_METRICS_NAMESPACE: 'modelgate-dev' }) },
    });
  });

  it('adds POST /v1/feedback to the API, validated as a JSON object, proxied to the feedback function', () => {
    const { template: api, raw: apiRaw } = monitoringStack({}, { api: true });
    api.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'feedback' });
    const uri = new Capture();
    api.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      ApiKeyRequired: true,
      RequestValidatorId: Match.anyValue(),
      Integration: { Type: 'AWS_PROXY', Uri: uri },
    });
    expect(JSON.stringify(uri.asObject())).toContain(`{"Fn::GetAtt":["${functionWithEntry(apiRaw, 'feedback')}","Arn"]}`);
  });
});

describe('ModelMonitoring fails when', () => {
  it('the drift window is not a whole number of windows, the period not whole minutes, or the batch size out of range', () => {
    const error = thrownBy(() => monitoringStack({ windowMinutes: 7, driftWindow: Duration.minutes(60), monitorPeriod: Duration.seconds(90), aggregationBatchSize: 20_000 }));
    expect(error).toBeInstanceOf(InvalidPropsError);
    expect(error.message).toContain('driftWindow must be a whole multiple of windowMinutes (7) of at most 24 hours, got: 60 minutes');
    expect(error.message).toContain('monitorPeriod must be a whole number of minutes >= 1, got: 1.5 minutes');
    expect(error.message).toContain('aggregationBatchSize must be an integer between 1 and 10000, got: 20000');
  });
});

describe('MonitoringDashboard', () => {
  const deployment = 'modelgate-dev';
  const stack = new Stack(new App(), deployment);
  new MonitoringDashboard(stack, 'Dashboard', {});
  const template = Template.fromStack(stack);
  const captured = new Capture();
  template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: deployment, DashboardBody: captured });
  const body = JSON.parse(deployed(template.toJSON() as CfnTemplate, { stackName: deployment }).text(captured.asObject())) as {
    widgets: { type: string; x: number; y: number; width: number; height: number; properties: { title?: string; markdown?: string; metrics?: [{ expression: string }][] } }[];
  };
  const expressions = body.widgets.flatMap((w) => w.properties.metrics ?? []).map(([metric]) => metric.expression);

  it("is named after the deployment and finds every model and version by SEARCH in the deployment's namespace", () => {
    expect(expressions).toHaveLength(5);
    for (const expression of expressions)
      expect(expression).toMatch(/^SEARCH\('\{modelgate-dev,service,model,version\} service="(inference|monitor)" MetricName="\w+"', '\w+', 300\)$/);
    expect(expressions.filter((e) => e.includes(`service="${SERVING_SERVICE}"`))).toHaveLength(4);
  });

  describe("as dashboards/modelgate-cloudwatch.json shows it in Grafana (its first section; monitoring-widgets.test.ts checks the model's)", () => {
    const dashboard = readDashboard('modelgate-cloudwatch.json');
    const panels = sections(dashboard)[0] ?? [];
    /** SEARCH('{<namespace>,<dimension>...} service="<service>" MetricName="<name>"', '<stat>', <period>) */
    const search = (expression: string) => {
      const match = /^SEARCH\('\{([^,}]+),([^}]*)\} service="([^"]+)" MetricName="([^"]+)"', '([^']+)', (\d+)\)$/.exec(expression);
      if (!match) throw new Error(`not a SEARCH this test reads: ${expression}`);
      const [, namespace, dimensions, service, metricName, statistic, period] = match as unknown as string[];
      return { namespace, dimensions: (dimensions as string).split(',').sort(), service, metricName, statistic, period };
    };
    const namespaceVariable = dashboard.templating.list.find((v) => v.name === 'namespace');

    it('has the same panels, in the same places, with the same metric, statistic and period', () => {
      expect(panels).toHaveLength(body.widgets.length);
      body.widgets.forEach((widget, i) => {
        const panel = panels[i] as Panel;
        expect(panel.gridPos).toEqual({ x: widget.x, y: widget.y, w: widget.width, h: widget.height });
        if (widget.type === 'text') {
          expect(panel.type).toBe('text');
          expect(panel.options?.content?.replaceAll('$namespace', deployment)).toBe(widget.properties.markdown);
          return;
        }
        expect(panel.type).toBe('timeseries');
        expect(panel.title).toBe(widget.properties.title);
        const expected = (widget.properties.metrics ?? []).map(([{ expression }]) => search(expression));
        expect(
          (panel.targets ?? []).map((t) => ({
            namespace: t.namespace === '$namespace' ? namespaceVariable?.query : t.namespace,
            dimensions: Object.keys(t.dimensions as object).sort(),
            service: (t.dimensions as Record<string, string>).service,
            metricName: t.metricName,
            statistic: t.statistic,
            period: t.period,
          })),
        ).toEqual(expected);
        // Every other dimension a wildcard and matched exactly: Grafana's builder then sends the same SEARCH.
        for (const target of panel.targets ?? []) {
          expect(Object.entries(target.dimensions as object).filter(([k, v]) => k !== 'service' && v !== '*')).toEqual([]);
          expect(target).toMatchObject({ matchExact: true, metricQueryType: 0, metricEditorMode: 0, queryMode: 'Metrics' });
        }
      });
    });

    it("names only metrics the stack's dashboard and the version alarms use, in the deployment's namespace", () => {
      const known = new Set([
        ...body.widgets.flatMap((w) => (w.properties.metrics ?? []).map(([{ expression }]) => search(expression).metricName)),
        ...versionAlarmSpecs(deployment, 'm', '1').flatMap((spec) =>
          ('expression' in spec.metric ? Object.values(spec.metric.metrics) : [spec.metric]).map((ref) => ref.metricName),
        ),
      ]);
      const targets = panels.flatMap((p) => p.targets ?? []);
      expect(targets.length).toBeGreaterThan(0);
      expect(targets.map((t) => t.metricName).filter((name) => !known.has(name as string))).toEqual([]);
      expect(namespaceVariable?.query).toBe(search(body.widgets[1]?.properties.metrics?.[0]?.[0].expression ?? '').namespace);
    });
  });
});
