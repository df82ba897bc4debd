import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { ModelBucket } from '../../lib/storage/model-bucket';
import type { ModelEndpoint } from '../../lib/serving/model-endpoint';
import { ModelRegistryTable } from '../../lib/storage/model-registry-table';
import type { PredictionLogTable } from '../../lib/storage/prediction-log-table';
import { PromotionPipeline, type PromotionPipelineProps } from '../../lib/pipeline/promotion-pipeline';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import { endpointStack, thrownBy } from './support';

function synth(overrides: Partial<PromotionPipelineProps> = {}): { template: Template; stack: Stack; pipeline: PromotionPipeline; endpoint: ModelEndpoint } {
  const { stack, endpoint } = endpointStack();
  const bucket = stack.node.findChild('Bucket') as ModelBucket;
  const log = stack.node.findChild('Log') as PredictionLogTable;
  const registry = new ModelRegistryTable(stack, 'Registry');
  const pipeline = new PromotionPipeline(stack, 'Pipeline', {
    modelBucket: bucket.bucket,
    modelBucketKey: bucket.encryptionKey,
    predictionTable: log.table,
    registryTable: registry.table,
    endpoints: [endpoint],
    ...overrides,
  });
  return { template: Template.fromStack(stack), stack, pipeline, endpoint };
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

/** The Allow statements of the role of a function whose logical id contains `fragment`. */
function statementsOf(template: Template, fragment: string): Statement[] {
  const roles = Object.keys(template.findResources('AWS::IAM::Role')).filter((id) => id.includes(fragment));
  expect(roles, fragment).toHaveLength(1);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(roles[0] as string))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
    .filter((s) => s.Effect === 'Allow');
}

const actionsOf = (statements: Statement[]) => [...new Set(statements.flatMap((s) => [s.Action].flat()))].sort();

describe('ModelRegistryTable', () => {
  const stack = new Stack();
  new ModelRegistryTable(stack, 'Registry');
  const template = Template.fromStack(stack);

  it('keys versions, the routing record and the lock by model, and lists versions newest first through a local index', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'model', KeyType: 'HASH' },
        { AttributeName: 'item', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      LocalSecondaryIndexes: [
        {
          IndexName: 'bySequence',
          KeySchema: [
            { AttributeName: 'model', KeyType: 'HASH' },
            { AttributeName: 'sequenceKey', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('is retained and protected by default', () => {
    template.hasResource('AWS::DynamoDB::Table', { Properties: Match.objectLike({ DeletionProtectionEnabled: true }), DeletionPolicy: 'Retain' });
  });

  it('fails when DESTROY is asked of a protected table', () => {
    expect(thrownBy(() => new ModelRegistryTable(new Stack(), 'R', { removalPolicy: RemovalPolicy.DESTROY })).message).toContain(
      'removalPolicy DESTROY needs deletionProtection: false',
    );
  });
});

describe('PromotionPipeline', () => {
  const { template, stack, endpoint } = synth({ notificationEmails: ['oncall@example.com'] });

  it('starts a STANDARD state machine on Object Created events of candidate manifests of the served models', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [Match.anyValue()] }, object: { key: [{ wildcard: 'candidates/churn/*/manifest.json' }] } },
      },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('PipelineStateMachine') }, DeadLetterConfig: Match.anyValue() })],
    });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL' }),
    });
  });

  it('defines bake waits, an alarm Choice on describeAlarms, SNS notices and a rollback branch', () => {
    const definition = new Capture();
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { DefinitionString: definition });
    const text = JSON.stringify(definition.asObject());
    for (const fragment of [
      ':states:::aws-sdk:cloudwatch:describeAlarms',
      ':states:::sns:publish',
      '\\"Bake\\":{\\"Type\\":\\"Wait\\",\\"SecondsPath\\":\\"$.step.bake.checkSeconds\\"',
      '\\"AlarmFiring?\\":{\\"Type\\":\\"Choice\\"',
      '\\"RolledBack\\":{\\"Type\\":\\"Fail\\"',
      '\\"Rejected\\":{\\"Type\\":\\"Fail\\"',
      '\\"Duplicate\\":{\\"Type\\":\\"Fail\\"',
      '\\"WaitForLock\\":{\\"Type\\":\\"Wait\\",\\"Seconds\\":30',
    ]) {
      expect(text).toContain(fragment);
    }
  });

  it('has an encrypted, TLS-only topic with the configured email subscription', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });

  it("pages on-call through the encrypted topic: the state machine may use its key, CloudWatch alarms of this deployment may publish", () => {
    const keyId = Object.keys(template.findResources('AWS::KMS::Key', { Properties: { Description: 'modelgate pipeline notifications' } }))[0] as string;
    const topicId = Object.keys(template.findResources('AWS::SNS::Topic'))[0] as string;
    const alarmsOfThisDeployment = {
      ArnLike: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:alarm:${stack.stackName}/*`]] } },
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
    };
    // The key policy: the root (IAM decides for the account's roles) and CloudWatch, for this deployment's alarms.
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { AWS: Match.anyValue() }, Action: 'kms:*' }),
          { Sid: 'AllowCloudWatchAlarms', Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*', Condition: alarmsOfThisDeployment },
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          { Sid: 'AllowCloudWatchAlarms', Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Resource: { Ref: topicId }, Condition: alarmsOfThisDeployment },
        ]),
      },
    });
    // The Notify states publish as the state machine's role: sns:Publish, and the key that encrypts the topic.
    const machine = statementsOf(template, 'StateMachineRole');
    expect(machine).toContainEqual(expect.objectContaining({ Action: 'sns:Publish', Resource: { Ref: topicId } }));
    const keyGrant = machine.find((s) => [s.Action].flat().includes('kms:GenerateDataKey*'));
    expect(keyGrant).toMatchObject({ Resource: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    expect([keyGrant?.Action].flat().sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
  });

  it('lets only the routing function write the live alias, and only that alias', () => {
    const aliasWriters = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p).includes('lambda:UpdateAlias'));
    expect(aliasWriters).toHaveLength(1);
    const routing = statementsOf(template, 'RoutingFunctionRole').filter((s) => [s.Action].flat().includes('lambda:UpdateAlias'));
    expect(routing).toHaveLength(1);
    expect(routing[0]?.Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [stack.getLogicalId(endpoint.function.node.defaultChild as never), 'Arn'] }, ':live']] });
    expect(actionsOf(statementsOf(template, 'RoutingFunctionRole'))).toEqual(['lambda:GetAlias', 'lambda:UpdateAlias', 'logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  it('gives each pipeline function only what its step needs', () => {
    expect(actionsOf(statementsOf(template, 'PublishFunctionRole'))).toEqual([
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'lambda:GetFunctionConfiguration',
      'lambda:PublishVersion',
      'lambda:UpdateFunctionConfiguration',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:GetObject',
      's3:PutObject',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    expect(actionsOf(statementsOf(template, 'ValidateFunctionRole'))).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'kms:Decrypt',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:GetObject',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    expect(actionsOf(statementsOf(template, 'ModelsFunctionRole'))).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    expect(actionsOf(statementsOf(template, 'RegistryFunctionRole'))).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
  });

  it('lets the inference function read the shadow setting and invoke its own versions (mirroring)', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'lambda:InvokeFunction', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('EndpointInferenceFunction'), 'Arn'] }, ':*']] } }),
        ]),
      },
    });
  });

  it('runs the handlers from source in the local runtime (entry metadata)', () => {
    const entries = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((f) => f.Metadata?.['modelgate:entry'])
      .filter(Boolean)
      .sort();
    expect(entries).toEqual([
      'lambdas/handlers/inference.ts',
      'lambdas/handlers/models.ts',
      'lambdas/handlers/publish.ts',
      'lambdas/handlers/registry.ts',
      'lambdas/handlers/routing.ts',
      'lambdas/handlers/validate.ts',
    ]);
  });

  it('has no unacknowledged cdk-nag finding (AwsSolutions + Serverless)', () => {
    const findings = [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
      pack.validateScope(stack.node.root).violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
    );
    expect(findings).toEqual([]);
  });

  describe('fails when', () => {
    it('props are out of range, reporting every problem', () => {
      const error = thrownBy(() =>
        synth({ endpoints: [], notificationEmails: ['not-an-email'], bakeCheckInterval: Duration.millis(1500), replayRequests: -1 }),
      ) as InvalidPropsError;
      expect(error).toBeInstanceOf(InvalidPropsError);
      expect(error.problems).toEqual([
        'endpoints must hold at least one model endpoint, got: 0',
        'notificationEmails must be email addresses, got: "not-an-email"',
        'bakeCheckInterval must be a whole number of seconds between 1 and 3600, got: 1.5',
        'replayRequests must be an integer between 0 and 10000, got: -1',
      ]);
    });
  });
});
