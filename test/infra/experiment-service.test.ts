import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { ExperimentService, type ExperimentServiceProps } from '../../lib/experiments/experiment-service';
import { ModelApi } from '../../lib/api/model-api';
import { ModelEndpoint } from '../../lib/serving/model-endpoint';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import { endpointDependencies, fastStack, thrownBy } from './support';

function experimentStack(overrides: Partial<ExperimentServiceProps> = {}) {
  const stack = fastStack();
  const dependencies = endpointDependencies(stack);
  const endpoint = new ModelEndpoint(stack, 'ChurnEndpoint', dependencies);
  const api = new ModelApi(stack, 'Api', { endpoints: [endpoint] });
  const service = new ExperimentService(stack, 'Experiments', { api: api.api, predictionTable: dependencies.predictionTable, endpoints: [endpoint], ...overrides });
  return { stack, service, endpoint, template: Template.fromStack(stack) };
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

/** Allow statements of the role of the function whose description starts with `prefix`, as "action on resource". */
function grants(template: Template, prefix: string): string[] {
  const [fn] = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp(`^${prefix}`) } }));
  const roleId = (fn?.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
    .filter((s) => s.Effect === 'Allow')
    .flatMap((s) => [s.Action].flat().map((action) => `${action} on ${describeResource(s.Resource)}`))
    .sort();
}

function describeResource(resource: unknown): string {
  const text = JSON.stringify(resource);
  if (text.includes('ExperimentsTable') && text.includes('/index/byStatus')) return 'experiments byStatus';
  if (text.includes('ExperimentsTable')) return 'experiments';
  if (text.includes('LogTable') && text.includes('StreamArn')) return 'prediction stream';
  if (text.includes('LogTable')) return 'predictions';
  if (text.includes('ChurnEndpointInferenceFunction')) return 'churn function versions';
  if (text.includes('Logs')) return 'own log group';
  if (text.includes('DeadLetters')) return 'dead letters';
  return text === '"*"' ? '*' : text;
}

describe('ExperimentService', () => {
  const { template, stack } = experimentStack();

  it('creates the experiment table: pk/sk, on demand, TTL, a status index carrying the definition', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byStatus',
          KeySchema: [
            { AttributeName: 'status', KeyType: 'HASH' },
            { AttributeName: 'modelStarted', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['definition'] },
        },
      ],
    });
  });

  it('serves POST /v1/events and GET /v1/experiments[/{id}], each with an API key', () => {
    const paths = Object.values(template.findResources('AWS::ApiGateway::Resource')).map((r) => r.Properties.PathPart);
    expect(paths).toEqual(expect.arrayContaining(['events', 'experiments', '{id}']));
    for (const method of ['POST', 'GET']) template.hasResourceProperties('AWS::ApiGateway::Method', { HttpMethod: method, ApiKeyRequired: true, Integration: { Type: 'AWS_PROXY' } });
    expect(Object.values(template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'GET', ResourceId: { Ref: Match.stringLikeRegexp('experiments') } } }))).toHaveLength(2);
  });

  it('feeds the aggregator from the prediction stream with a tumbling window (the shard id), inserts and labels only', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('LogTable'), 'StreamArn'] },
      FunctionName: { Ref: Match.stringLikeRegexp('ExperimentsAggregateFunction') },
      BatchSize: 1000,
      TumblingWindowInSeconds: 60,
      BisectBatchOnFunctionError: false,
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
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 hour)', Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('ExperimentsAnalyzeFunction'), 'Arn'] } })] });
    expect(Template.fromStack(experimentStack({ analysisPeriod: Duration.minutes(15) }).stack).toJSON().Resources).toSatisfy((resources: Record<string, { Type: string; Properties: { ScheduleExpression?: string } }>) =>
      Object.values(resources).some((r) => r.Type === 'AWS::Events::Rule' && r.Properties.ScheduleExpression === 'rate(15 minutes)'),
    );
  });

  it('grants each function only what it does', () => {
    const logs = ['logs:CreateLogStream on own log group', 'logs:PutLogEvents on own log group'];
    const xray = ['xray:PutTelemetryRecords on *', 'xray:PutTraceSegments on *'];
    expect(grants(template, 'modelgate: outcome events')).toEqual(
      ['dynamodb:BatchGetItem on experiments', 'dynamodb:BatchGetItem on predictions', 'dynamodb:Query on experiments byStatus', 'dynamodb:UpdateItem on experiments', ...logs, ...xray].sort(),
    );
    expect(grants(template, 'modelgate: experiments, their analysis')).toEqual(['dynamodb:GetItem on experiments', 'dynamodb:Query on experiments', 'dynamodb:Query on experiments byStatus', ...logs, ...xray].sort());
    expect(grants(template, 'modelgate: scheduled analysis')).toEqual(
      ['dynamodb:GetItem on experiments', 'dynamodb:PutItem on experiments', 'dynamodb:Query on experiments', 'dynamodb:Query on experiments byStatus', 'sqs:SendMessage on dead letters', ...logs, ...xray].sort(),
    );
    const aggregator = grants(template, 'modelgate: prediction log stream -> experiment');
    expect(aggregator.filter((g) => !g.includes('prediction stream') && !g.startsWith('dynamodb:ListStreams'))).toEqual(
      ['dynamodb:GetItem on experiments', 'dynamodb:PutItem on experiments', 'dynamodb:Query on experiments byStatus', 'dynamodb:UpdateItem on experiments', ...logs, ...xray, 'sqs:GetQueueAttributes on dead letters', 'sqs:GetQueueUrl on dead letters', 'sqs:SendMessage on dead letters'].sort(),
    );
  });

  it('lets the inference function route units: the table name, a Query of the status index, invoking its own versions', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Description: Match.stringLikeRegexp('ONNX inference'), Environment: { Variables: Match.objectLike({ EXPERIMENT_TABLE: { Ref: Match.stringLikeRegexp('ExperimentsTable') } }) } });
    const routing = grants(template, 'modelgate churn: ONNX inference').filter((g) => g.includes('byStatus') || g.startsWith('lambda:'));
    expect(routing).toEqual(['dynamodb:Query on experiments byStatus', 'lambda:InvokeFunction on churn function versions']);
  });

  it('passes cdk-nag (AwsSolutions + Serverless) with reasons for what it acknowledges', () => {
    const findings = [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
      pack.validateScope(stack.node.root).violations.filter((v) => v.violatingResources.some((r) => (r.constructPath ?? '').includes('/Experiments/'))).map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
    );
    expect(findings).toEqual([]);
  });

  it.each([
    [{ analysisPeriod: Duration.seconds(90) }, 'analysisPeriod must be a whole number of minutes >= 1, got: 1.5 minutes'],
    [{ aggregationBatchSize: 0 }, 'aggregationBatchSize must be an integer between 1 and 10000, got: 0'],
    [{ endpoints: [] }, 'endpoints must hold at least one model endpoint, got: 0'],
  ])('fails when %j', (overrides, problem) => {
    const error = thrownBy(() => experimentStack(overrides as Partial<ExperimentServiceProps>));
    expect(error).toBeInstanceOf(InvalidPropsError);
    expect((error as InvalidPropsError).problems).toContain(problem);
  });
});
