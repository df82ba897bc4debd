import { Duration } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ALARM_THRESHOLDS, MONITOR_SERVICE, SERVING_SERVICE } from '../../lambdas/core/monitoring/alarms';
import { ModelApi } from '../../lib/api/model-api';
import { ModelEndpoint } from '../../lib/serving/model-endpoint';
import { ModelMonitoring, type ModelMonitoringProps } from '../../lib/monitoring/model-monitoring';
import { ModelgateStack } from '../../lib/modelgate-stack';
import { VersionAlarms } from '../../lib/monitoring/version-alarms';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import { endpointDependencies, fastStack, thrownBy } from './support';

function monitoringStack(overrides: Partial<ModelMonitoringProps> = {}) {
  const stack = fastStack();
  const dependencies = endpointDependencies(stack);
  const monitoring = new ModelMonitoring(stack, 'Monitoring', {
    predictionTable: dependencies.predictionTable,
    modelBucket: dependencies.modelBucket,
    modelBucketKey: dependencies.modelBucketKey,
    ...overrides,
  });
  return { stack, monitoring, dependencies, template: Template.fromStack(stack) };
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

/** The Allow actions of the role of the function whose description starts with `prefix`. */
function roleActions(template: Template, prefix: string): string[] {
  const functions = template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp(`^${prefix}`) } });
  const [fn] = Object.values(functions);
  const roleId = (fn?.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
    (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId),
  );
  return policies
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
    .filter((statement) => statement.Effect === 'Allow')
    .flatMap((statement) => [statement.Action].flat())
    .sort();
}

describe('ModelMonitoring', () => {
  const { template } = monitoringStack();

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

  it('feeds the aggregator from the prediction stream in batches, one shard batch at a time, with a tumbling window', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('LogTable'), 'StreamArn'] },
      BatchSize: 1000,
      MaximumBatchingWindowInSeconds: 30,
      TumblingWindowInSeconds: 60,
      ParallelizationFactor: 1,
      BisectBatchOnFunctionError: false,
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
      Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: { MaximumRetryAttempts: 2 } })],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^modelgate: scheduled'),
      Environment: { Variables: Match.objectLike({ WINDOW_MINUTES: '5', DRIFT_WINDOW_MINUTES: '60', QUALITY_LOOKBACK_HOURS: '24' }) },
    });
    const configured = monitoringStack({ monitorPeriod: Duration.minutes(15), driftWindow: Duration.minutes(30) }).template;
    configured.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
    configured.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ DRIFT_WINDOW_MINUTES: '30' }) } });
  });

  it('grants each function only what it does', () => {
    const logsAndTracing = ['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'];
    const manifests = ['kms:Decrypt', 's3:GetObject'];
    expect(roleActions(template, 'modelgate: ground truth')).toEqual([...logsAndTracing, ...manifests, 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem'].sort());
    expect(roleActions(template, 'modelgate: scheduled')).toEqual([...logsAndTracing, ...manifests, 'dynamodb:Query', 'sqs:SendMessage'].sort());
    const aggregator = roleActions(template, 'modelgate: prediction log stream');
    expect(aggregator).toEqual(
      expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:DescribeStream']),
    );
    expect(aggregator.filter((action) => ['dynamodb:Query', 'dynamodb:Scan', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'].includes(action))).toEqual([]);
    const manifestObjects = new Capture();
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 's3:GetObject', Resource: manifestObjects })]) },
    });
    expect(JSON.stringify(manifestObjects.asObject())).toContain('/models/*/manifest.json');
  });

  it('marks each function with its source entry for the local runtime', () => {
    for (const entry of ['feedback', 'aggregator', 'monitor']) {
      expect(Object.keys(template.findResources('AWS::Lambda::Function', { Metadata: { 'modelgate:entry': `lambdas/handlers/${entry}.ts` } }))).toHaveLength(1);
    }
  });

  it('adds POST /v1/feedback to the API when given the feedback function', () => {
    const stack = fastStack();
    const dependencies = endpointDependencies(stack);
    const monitoring = new ModelMonitoring(stack, 'Monitoring', { predictionTable: dependencies.predictionTable, modelBucket: dependencies.modelBucket });
    new ModelApi(stack, 'Api', { endpoints: [new ModelEndpoint(stack, 'Endpoint', dependencies)], feedbackFunction: monitoring.feedbackFunction });
    const api = Template.fromStack(stack);
    api.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'feedback' });
    api.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      ApiKeyRequired: true,
      Integration: { Type: 'AWS_PROXY', Uri: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([Match.objectLike({ 'Fn::GetAtt': [Match.stringLikeRegexp('FeedbackFunction'), 'Arn'] })])]) }) },
    });
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

describe('VersionAlarms', () => {
  function alarms(thresholds = { ...DEFAULT_ALARM_THRESHOLDS, featureDrift: { features: ['Contract'], severity: 'warning' as const } }) {
    const stack = fastStack();
    const topic = new sns.Topic(stack, 'OnCall');
    new VersionAlarms(stack, 'Alarms', { model: 'churn', version: '3', thresholds, topic });
    return Template.fromStack(stack);
  }
  const template = alarms();

  it('names alarms <deployment>/<model>/v<version>/<metric>-<severity> and notifies the topic on ALARM and OK', () => {
    const names = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties.AlarmName as string);
    expect(names).toContain('Test/churn/v3/drift-share-critical');
    expect(names).toContain('Test/churn/v3/feature-drift-Contract-warning');
    expect(names.every((name) => /^Test\/churn\/v3\/[a-z0-9_.-]+?-(warning|critical)$/i.test(name))).toBe(true);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Test/churn/v3/drift-share-warning',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('OnCall') }],
      OKActions: [{ Ref: Match.stringLikeRegexp('OnCall') }],
    });
  });

  it('watches the monitor\'s metrics with the dimensions it emits: service monitor, model, version (and feature)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Test/churn/v3/drift-share-critical',
      Namespace: 'Test',
      MetricName: 'DriftShare',
      Dimensions: Match.arrayEquals([
        { Name: 'model', Value: 'churn' },
        { Name: 'service', Value: 'monitor' },
        { Name: 'version', Value: '3' },
      ]),
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      Threshold: 0.5,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Test/churn/v3/feature-drift-Contract-warning',
      MetricName: 'FeatureDrift',
      Dimensions: Match.arrayWith([{ Name: 'feature', Value: 'Contract' }]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'Test/churn/v3/accuracy-drop-warning', MetricName: 'AccuracyDegradation', Threshold: 0.05 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Test/churn/v3/estimated-roc-auc-drop-critical',
      MetricName: 'EstimatedRocAucDegradation',
      Period: 300,
      DatapointsToAlarm: 2,
      Threshold: 0.1,
    });
  });

  it('computes the error rate of the inference function by metric math over its service dimension', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Test/churn/v3/error-rate-critical',
      EvaluationPeriods: 5,
      DatapointsToAlarm: 3,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'FILL(errors, 0) / requests', ReturnData: true }),
        Match.objectLike({
          Id: 'errors',
          MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'Errors', Dimensions: Match.arrayWith([{ Name: 'service', Value: 'inference' }]) }), Stat: 'Sum' }),
        }),
      ]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'Test/churn/v3/latency-p99-warning', MetricName: 'Latency', ExtendedStatistic: 'p99' });
  });

  it('fails on thresholds out of range, naming them', () => {
    const error = thrownBy(() => alarms({ ...DEFAULT_ALARM_THRESHOLDS, driftShare: { warning: 1.5 } } as never));
    expect(error.message).toContain('thresholds.driftShare.warning must be a number in [0, 1], got: 1.5');
  });
});

describe('ModelgateStack monitoring wiring', () => {
  const template = Template.fromStack(
    new ModelgateStack(fastStack().node.root, 'Wired', {
      models: [{ name: 'churn', version: '1', alarms: { featureDrift: { features: ['Contract'], severity: 'warning' } } }],
    }),
  );

  it('alarms the configured version on the one on-call topic (the pipeline\'s notification topic)', () => {
    const topics = Object.keys(template.findResources('AWS::SNS::Topic'));
    expect(topics).toHaveLength(1);
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.map((a) => a.Properties.AlarmName).filter((name) => name.startsWith('Wired/churn/v1/'))).toHaveLength(18);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topics[0] }]);
    template.hasOutput('MonitoringTableName', Match.anyValue());
  });

  it('alarms on the service dimension the functions emit (POWERTOOLS_SERVICE_NAME)', () => {
    const services = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (fn) => (fn.Properties.Environment?.Variables as Record<string, string> | undefined)?.POWERTOOLS_SERVICE_NAME,
    );
    expect(services).toContain(SERVING_SERVICE);
    expect(services).toContain(MONITOR_SERVICE);
  });

  it('has a dashboard charting drift per feature and quality for the version', () => {
    const body = new Capture();
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardBody: body });
    const text = JSON.stringify(body.asObject());
    for (const expected of ['FeatureDriftStatistic', 'Contract', 'DriftShare', 'AccuracyDegradation', 'FILL(errors, 0) / requests']) expect(text).toContain(expected);
  });
});
