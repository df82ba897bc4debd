// A/B experiments: the experiment table (keyed as the store reads it), the events and experiments routes, the
// stream aggregator and the scheduled analysis, each function's grants, cdk-nag, prop validation. Sticky routing
// itself runs in each model's function (its grants are in model-stack.test.ts).
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EXPERIMENT_KEYS } from '../../lambdas/adapters/experiment-store';
import { ModelApi } from '../../lib/api/model-api';
import { ExperimentService, type ExperimentServiceProps } from '../../lib/experiments/experiment-service';
import { ExperimentTable } from '../../lib/experiments/experiment-table';
import { ModelRegistryTable } from '../../lib/storage/model-registry-table';
import { PredictionLogTable } from '../../lib/storage/prediction-log-table';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import type { CfnTemplate } from '../../local/template';
import { ACCOUNT, deployed, REGION } from './deployed';
import { functionWithEntry, grants, nagFindings, roleOf, roleStatements, thrownBy } from './support';

function experimentStack(overrides: Partial<ExperimentServiceProps> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'modelgate-dev', { env: { account: ACCOUNT, region: REGION } });
  const log = new PredictionLogTable(stack, 'PredictionLog');
  const api = new ModelApi(stack, 'Api', { registryTable: new ModelRegistryTable(stack, 'Registry').table });
  const service = new ExperimentService(stack, 'Experiments', { api: api.api, predictionTable: log.table, ...overrides });
  const template = Template.fromStack(stack);
  return { stack, service, template, raw: template.toJSON() as CfnTemplate };
}

describe('ExperimentService', () => {
  const { stack, template, raw } = experimentStack();
  const dev = deployed(raw, { stackName: 'modelgate-dev' });
  const only = (type: string, props: object = {}) => {
    const ids = Object.keys(template.findResources(type, props));
    expect(ids, type).toHaveLength(1);
    return ids[0] as string;
  };
  const experimentTable = () => only('AWS::DynamoDB::Table', { Properties: { GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'byStatus' })] } });
  const predictionTable = () => only('AWS::DynamoDB::Table', { Properties: { KeySchema: [{ AttributeName: 'predictionId', KeyType: 'HASH' }] } });

  it('creates the experiment table keyed as the experiment store reads it: pk/sk, on demand, TTL, a status index carrying the definition', () => {
    expect({
      partition: ExperimentTable.PARTITION_KEY,
      sort: ExperimentTable.SORT_KEY,
      byStatusIndex: ExperimentTable.BY_STATUS_INDEX,
      statusKey: ExperimentTable.BY_STATUS_PARTITION_KEY,
      modelStartedKey: ExperimentTable.BY_STATUS_SORT_KEY,
      ttl: ExperimentTable.TTL_ATTRIBUTE,
    }).toEqual(EXPERIMENT_KEYS);
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({
        KeySchema: [
          { AttributeName: EXPERIMENT_KEYS.partition, KeyType: 'HASH' },
          { AttributeName: EXPERIMENT_KEYS.sort, KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: EXPERIMENT_KEYS.ttl, Enabled: true },
        DeletionProtectionEnabled: true,
        GlobalSecondaryIndexes: [
          {
            IndexName: EXPERIMENT_KEYS.byStatusIndex,
            KeySchema: [
              { AttributeName: EXPERIMENT_KEYS.statusKey, KeyType: 'HASH' },
              { AttributeName: EXPERIMENT_KEYS.modelStartedKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['definition'] },
          },
        ],
      }),
      DeletionPolicy: 'Retain',
    });
  });

  it('serves POST /v1/events and GET /v1/experiments[/{id}], each with an API key, proxied to its function', () => {
    const resources = raw.Resources;
    const pathOf = (id: string): string => {
      const { PathPart, ParentId } = resources[id]?.Properties as { PathPart: string; ParentId: { Ref?: string } };
      return ParentId.Ref ? `${pathOf(ParentId.Ref)}/${PathPart}` : `/${PathPart}`;
    };
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'))
      .map((m) => `${m.Properties.HttpMethod} ${pathOf(m.Properties.ResourceId.Ref)} -> ${JSON.stringify(m.Properties.Integration.Uri).match(/"Fn::GetAtt":\["(\w+)"/)?.[1]}`)
      .filter((route) => !route.includes('/v1/models'))
      .sort();
    expect(methods).toEqual([
      `GET /v1/experiments -> ${functionWithEntry(raw, 'experiments')}`,
      `GET /v1/experiments/{id} -> ${functionWithEntry(raw, 'experiments')}`,
      `POST /v1/events -> ${functionWithEntry(raw, 'experiment-events')}`,
    ]);
    for (const method of Object.values(template.findResources('AWS::ApiGateway::Method')))
      expect(method.Properties).toMatchObject({ ApiKeyRequired: true, Integration: { Type: 'AWS_PROXY' } });
  });

  it('feeds the aggregator from the prediction stream with a tumbling window (the shard id), inserts and labels only', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [predictionTable(), 'StreamArn'] },
      FunctionName: { Ref: functionWithEntry(raw, 'experiment-aggregator') },
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 5,
      TumblingWindowInSeconds: 60,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      FilterCriteria: {
        Filters: [
          { Pattern: '{"eventName":["INSERT"]}' },
          { Pattern: '{"eventName":["MODIFY"],"dynamodb":{"NewImage":{"actual":{"S":[{"exists":true}]}}}}' },
          { Pattern: '{"eventName":["MODIFY"],"dynamodb":{"NewImage":{"actual":{"N":[{"exists":true}]}}}}' },
        ],
      },
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
  });

  it('analyses running experiments on a schedule, hourly by default', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [functionWithEntry(raw, 'experiment-analysis'), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2 } })],
    });
    experimentStack({ analysisPeriod: Duration.minutes(15) }).template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
  });

  it('grants each function only what it does', () => {
    const experiments = dev.arn(experimentTable());
    const byStatus = `${experiments}/index/${EXPERIMENT_KEYS.byStatusIndex}`;
    const predictions = dev.arn(predictionTable());
    const deadLetters = dev.arn(only('AWS::SQS::Queue'));
    const of = (handler: string) => {
      const fn = functionWithEntry(raw, handler);
      const logs = dev.arn((raw.Resources[fn]?.Properties?.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref);
      return {
        own: grants(dev, roleStatements(raw, roleOf(raw, fn))),
        shared: [`logs:CreateLogStream on ${logs}`, `logs:PutLogEvents on ${logs}`, 'xray:PutTraceSegments on *', 'xray:PutTelemetryRecords on *'],
      };
    };
    const events = of('experiment-events');
    expect(events.own).toEqual(
      [
        ...events.shared,
        `dynamodb:BatchGetItem on ${predictions}`,
        `dynamodb:BatchGetItem on ${experiments}`,
        `dynamodb:UpdateItem on ${experiments}`,
        `dynamodb:Query on ${byStatus}`,
      ].sort(),
    );
    const reads = of('experiments');
    expect(reads.own).toEqual([...reads.shared, `dynamodb:GetItem on ${experiments}`, `dynamodb:Query on ${experiments}`, `dynamodb:Query on ${byStatus}`].sort());
    const analysis = of('experiment-analysis');
    expect(analysis.own).toEqual(
      [
        ...analysis.shared,
        `dynamodb:GetItem on ${experiments}`,
        `dynamodb:Query on ${experiments}`,
        `dynamodb:PutItem on ${experiments}`,
        `dynamodb:Query on ${byStatus}`,
        `sqs:SendMessage on ${deadLetters}`,
      ].sort(),
    );
    const aggregator = of('experiment-aggregator');
    expect(aggregator.own).toEqual(
      [
        ...aggregator.shared,
        ...['GetItem', 'PutItem', 'UpdateItem'].map((action) => `dynamodb:${action} on ${experiments}`),
        `dynamodb:Query on ${byStatus}`,
        ...['DescribeStream', 'GetRecords', 'GetShardIterator'].map((action) => `dynamodb:${action} on ${predictions}/stream/2025-01-01T00:00:00.000`),
        'dynamodb:ListStreams on *',
        ...['SendMessage', 'GetQueueAttributes', 'GetQueueUrl'].map((action) => `sqs:${action} on ${deadLetters}`),
      ].sort(),
    );
  });

  it('passes cdk-nag (AwsSolutions + Serverless) with reasons for what it acknowledges', () => {
    expect(nagFindings(stack).filter((finding) => finding.includes('/Experiments/'))).toEqual([]);
  });

  it.each([
    ['the analysis period is not whole minutes', { analysisPeriod: Duration.seconds(90) }, 'analysisPeriod must be a whole number of minutes >= 1, got: 1.5 minutes'],
    ['the batch size is out of range', { aggregationBatchSize: 0 }, 'aggregationBatchSize must be an integer between 1 and 10000, got: 0'],
  ])('fails when %s', (_case, overrides, problem) => {
    const error = thrownBy(() => experimentStack(overrides as Partial<ExperimentServiceProps>));
    expect(error).toBeInstanceOf(InvalidPropsError);
    expect((error as InvalidPropsError).problems).toEqual([problem]);
  });
});
