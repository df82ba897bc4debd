// The promotion pipeline as the base stack deploys it: the upload rule, the state machine and what its role may
// call, each pipeline function's grants (read as deployed), the registry table, the on-call topic, prop
// validation. What the state machine does is tested by running it (test/pipeline/state-machine.test.ts).
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { PIPELINE_VARIABLES } from '../../lambdas/contracts/pipeline-environment';
import { alarmName } from '../../lambdas/core/naming';
import type { ModelgateStack } from '../../lib/modelgate-stack';
import { PromotionPipeline } from '../../lib/pipeline/promotion-pipeline';
import { ModelRegistryTable } from '../../lib/storage/model-registry-table';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import type { CfnTemplate } from '../../local/template';
import { ACCOUNT, deployed, type DeployedStack, iamMatches, REGION } from './deployed';
import { actionsOf, fastDeployment, functionWithEntry, grants, roleOf, roleStatements, type Statement, thrownBy } from './support';

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

  it('is retained and protected by default: the registry is the history of every model', () => {
    template.hasResource('AWS::DynamoDB::Table', { Properties: Match.objectLike({ DeletionProtectionEnabled: true }), DeletionPolicy: 'Retain' });
  });

  it('fails when DESTROY is asked of a protected table', () => {
    expect(thrownBy(() => new ModelRegistryTable(new Stack(), 'R', { removalPolicy: RemovalPolicy.DESTROY })).message).toContain(
      'removalPolicy DESTROY needs deletionProtection: false',
    );
  });
});

describe('PromotionPipeline', () => {
  let stack: ModelgateStack;
  let template: Template;
  let raw: CfnTemplate;
  let dev: DeployedStack;

  beforeAll(() => {
    stack = fastDeployment({ notificationEmails: ['oncall@example.com'] });
    template = Template.fromStack(stack);
    raw = template.toJSON() as CfnTemplate;
    dev = deployed(raw, { stackName: stack.stackName });
  });

  const only = (type: string, props: object = {}): string => {
    const ids = Object.keys(template.findResources(type, props));
    expect(ids, type).toHaveLength(1);
    return ids[0] as string;
  };
  const bucket = () => dev.arn(only('AWS::S3::Bucket', { Properties: { VersioningConfiguration: { Status: 'Enabled' } } }));
  const bucketKey = () => dev.arn(only('AWS::KMS::Key', { Properties: { Description: 'modelgate model bundles' } }));
  const topicKey = () => only('AWS::KMS::Key', { Properties: { Description: 'modelgate pipeline notifications' } });
  const viaS3 = `if {"StringEquals":{"kms:ViaService":"s3.${REGION}.amazonaws.com"}}`;
  /** The promotion pipeline's state machine (`Pipeline/StateMachine`); the batch jobs' is another (`Batch/StateMachine`). */
  const stateMachine = (): string => {
    const ids = Object.keys(template.findResources('AWS::StepFunctions::StateMachine')).filter((id) => id.startsWith('PipelineStateMachine'));
    expect(ids).toHaveLength(1);
    return ids[0] as string;
  };
  const stateMachineRole = () => (raw.Resources[stateMachine()]?.Properties?.RoleArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
  /** Grants of a pipeline function's role. */
  const grantsOf = (handler: string) => grants(dev, roleStatements(raw, roleOf(raw, functionWithEntry(raw, handler))));
  /** What every function of the pipeline may do besides its step: its logs, X-Ray, and read the published declarations. */
  const common = (handler: string) => {
    const logs = dev.arn((raw.Resources[functionWithEntry(raw, handler)]?.Properties?.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref);
    return [
      `logs:CreateLogStream on ${logs}`,
      `logs:PutLogEvents on ${logs}`,
      'xray:PutTraceSegments on *',
      'xray:PutTelemetryRecords on *',
      `s3:GetObject on ${bucket()}/config/models.json`,
      `kms:Decrypt on ${bucketKey()} ${viaS3}`,
    ];
  };
  const modelFunctions = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:modelgate-dev-model-*`;

  it("starts on an upload of any model's candidate manifest to the model bucket, with retries and a dead-letter queue", () => {
    const rule = only('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.s3'] } } });
    expect(dev.resolve(raw.Resources[rule]?.Properties)).toMatchObject({
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [dev.ref(only('AWS::S3::Bucket', { Properties: { VersioningConfiguration: { Status: 'Enabled' } } }))] },
          object: { key: [{ wildcard: 'candidates/*/*/manifest.json' }] },
        },
      },
      Targets: [
        { Arn: dev.ref(stateMachine()), DeadLetterConfig: { Arn: expect.stringContaining(':sqs:') }, RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 } },
      ],
    });
  });

  it('runs a STANDARD state machine with tracing, and logs without execution data', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
    });
  });

  it('lets the state machine role make every call its definition makes: functions, topic, alarms, API deployments', () => {
    const definition = JSON.parse(dev.text(raw.Resources[stateMachine()]?.Properties?.DefinitionString)) as { States: Record<string, unknown> };
    const tasks: { Resource: string; Parameters?: Record<string, unknown> }[] = [];
    const walk = (states: Record<string, unknown>) => {
      for (const state of Object.values(states) as {
        Type: string;
        Resource?: string;
        Parameters?: Record<string, unknown>;
        ItemProcessor?: { States: Record<string, unknown> };
        Iterator?: { States: Record<string, unknown> };
        Branches?: { States: Record<string, unknown> }[];
      }[]) {
        if (state.Type === 'Task') tasks.push(state as { Resource: string; Parameters?: Record<string, unknown> });
        for (const nested of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]) if (nested) walk(nested.States);
      }
    };
    walk(definition.States);
    // The AWS SDK integrations the definition uses, and the IAM action each one is authorized by.
    const sdkActions: Record<string, string> = {
      'cloudwatch:describeAlarms': 'cloudwatch:DescribeAlarms',
      'cloudwatch:putMetricAlarm': 'cloudwatch:PutMetricAlarm',
      'cloudwatch:deleteAlarms': 'cloudwatch:DeleteAlarms',
      'apigateway:createDeployment': 'apigateway:POST',
      // Who holds a busy lock: an execution of this state machine.
      'sfn:describeExecution': 'states:DescribeExecution',
    };
    const anAlarm = `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${alarmName('modelgate-dev', 'churn', '2', 'error-rate', 'critical')}`;
    const calls = tasks.map(({ Resource, Parameters }): [string, string] => {
      if (Resource.startsWith('arn:aws:lambda:')) return ['lambda:InvokeFunction', Resource];
      if (Resource === 'arn:aws:states:::sns:publish') return ['sns:Publish', String(Parameters?.TopicArn)];
      const sdk = /^arn:aws:states:::aws-sdk:(.+)$/.exec(Resource)?.[1] as string;
      const action = sdkActions[sdk];
      if (!action) throw new Error(`the definition calls ${Resource}: say which IAM action authorizes it`);
      if (sdk.startsWith('sfn:')) return [action, `${dev.ref(stateMachine()).replace(':stateMachine:', ':execution:')}:a-stopped-execution`];
      return [action, sdk.startsWith('apigateway:') ? `arn:aws:apigateway:${REGION}::/restapis/${String(Parameters?.RestApiId)}/deployments` : anAlarm];
    });
    expect(new Set(calls.map(([action]) => action))).toEqual(new Set(['lambda:InvokeFunction', 'sns:Publish', ...Object.values(sdkActions)]));
    const statements = roleStatements(raw, stateMachineRole()).filter((s) => s.Effect === 'Allow');
    const denied = calls.filter(
      ([action, arn]) => !statements.some((s) => actionsOf(s).includes(action) && [s.Resource].flat().some((pattern) => iamMatches(dev.text(pattern), arn))),
    );
    expect(denied).toEqual([]);
  });

  it("scopes the state machine role to the pipeline's functions, the topic and its key, this deployment's alarms and its API's deployments", () => {
    const functions = ['registry', 'validate', 'publish', 'routing', 'provision'].map((handler) => dev.arn(functionWithEntry(raw, handler)));
    const alarms = `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:modelgate-dev/*`;
    const logDelivery = grants(dev, roleStatements(raw, stateMachineRole())).filter((grant) => grant.startsWith('logs:'));
    expect(grants(dev, roleStatements(raw, stateMachineRole())).filter((grant) => !grant.startsWith('logs:'))).toEqual(
      [
        ...functions.flatMap((arn) => [`lambda:InvokeFunction on ${arn}`, `lambda:InvokeFunction on ${arn}:*`]),
        `sns:Publish on ${dev.ref(only('AWS::SNS::Topic'))}`,
        // The Notify states publish to an encrypted topic: SNS uses its key on the publisher's behalf (grantPublish).
        `kms:Decrypt on ${dev.arn(topicKey())}`,
        `kms:GenerateDataKey* on ${dev.arn(topicKey())}`,
        `cloudwatch:DescribeAlarms on ${alarms}`,
        `cloudwatch:PutMetricAlarm on ${alarms}`,
        `cloudwatch:DeleteAlarms on ${alarms}`,
        `apigateway:POST on arn:aws:apigateway:${REGION}::/restapis/${dev.ref(only('AWS::ApiGateway::RestApi'))}/deployments`,
        // A busy lock's holder: the executions of this state machine only.
        `states:DescribeExecution on ${dev.ref(stateMachine()).replace(':stateMachine:', ':execution:')}:*`,
        'xray:PutTraceSegments on *',
        'xray:PutTelemetryRecords on *',
        'xray:GetSamplingRules on *',
        'xray:GetSamplingTargets on *',
      ].sort(),
    );
    // Log delivery to the state machine's log group is configured account-wide by Step Functions.
    expect(logDelivery.every((grant) => grant.endsWith(' on *'))).toBe(true);
  });

  it('lets the provision function create, update and delete the model stacks only, as the CloudFormation role only', () => {
    const cloudFormationRole = only('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'cloudformation.amazonaws.com' } })] } },
    });
    const stacks = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/modelgate-dev-model-*/*`;
    expect(grantsOf('provision')).toEqual(
      [
        ...common('provision'),
        `s3:GetObject on ${bucket()}/templates/model-stack.json`,
        ...['CreateStack', 'UpdateStack', 'DeleteStack', 'DescribeStacks', 'DescribeStackEvents', 'GetTemplate'].map((action) => `cloudformation:${action} on ${stacks}`),
        `iam:PassRole on ${dev.arn(cloudFormationRole)} if {"StringEquals":{"iam:PassedToService":"cloudformation.amazonaws.com"}}`,
      ].sort(),
    );
    const variables = dev.resolve(raw.Resources[functionWithEntry(raw, 'provision')]?.Properties?.Environment) as { Variables: Record<string, string> };
    expect(variables.Variables[PIPELINE_VARIABLES.modelStackRoleArn]).toBe(dev.arn(cloudFormationRole));
  });

  it('lets only the routing function write a live alias, only the live alias of a model function', () => {
    expect(grantsOf('routing')).toEqual([...common('routing'), `lambda:UpdateAlias on ${modelFunctions}:live`, `lambda:GetAlias on ${modelFunctions}:live`].sort());
    const aliasWriters = Object.values(raw.Resources).filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties?.PolicyDocument).includes('lambda:UpdateAlias'));
    expect(aliasWriters).toHaveLength(1);
    // Alarms the pipeline creates for each version notify the on-call topic.
    const variables = dev.resolve(raw.Resources[functionWithEntry(raw, 'routing')]?.Properties?.Environment) as { Variables: Record<string, string> };
    expect(JSON.parse(variables.Variables[PIPELINE_VARIABLES.alarmActions] as string)).toEqual([dev.ref(only('AWS::SNS::Topic'))]);
  });

  it('lets the publish function copy the validated object versions of accepted bundles and publish versions of model functions', () => {
    expect(grantsOf('publish')).toEqual(
      [
        ...common('publish'),
        // CopyObject and GetObject of a named version: publish reads no candidate's current object.
        `s3:GetObjectVersion on ${bucket()}/candidates/*`,
        `s3:PutObject on ${bucket()}/models/*`,
        `kms:GenerateDataKey on ${bucketKey()} ${viaS3}`,
        ...['GetFunctionConfiguration', 'UpdateFunctionConfiguration', 'PublishVersion'].map((action) => `lambda:${action} on ${modelFunctions}`),
      ].sort(),
    );
    // It packs the model into one object: a model at the manifest's size ceiling (512 MiB) is held twice.
    expect(raw.Resources[functionWithEntry(raw, 'publish')]?.Properties?.MemorySize).toBe(1536);
  });

  it('lets the validation and registry functions read and write what their steps need, and nothing on functions or stacks', () => {
    const actions = (handler: string) => [...new Set(roleStatements(raw, roleOf(raw, functionWithEntry(raw, handler))).flatMap(actionsOf))].sort();
    expect(actions('validate')).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'kms:Decrypt',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:GetObject',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    expect(actions('registry')).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'kms:Decrypt',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:GetObject',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
    expect(grantsOf('validate')).toEqual(expect.arrayContaining([`s3:GetObject on ${bucket()}/candidates/*`, `s3:GetObject on ${bucket()}/models/*`]));
  });

  it('reaches no function of the base stack through its grants on model functions', () => {
    const baseFunctions = Object.keys(raw.Resources)
      .filter((id) => raw.Resources[id]?.Type === 'AWS::Lambda::Function')
      .map((id) => dev.arn(id));
    const patterns = Object.values(raw.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => (r.Properties?.PolicyDocument as { Statement: Statement[] }).Statement)
      .flatMap((s) => [s.Resource].flat().map((resource) => dev.text(resource)))
      .filter((resource) => resource.includes(':function:modelgate-dev-model-'));
    expect(patterns.length).toBeGreaterThan(3);
    const reached = baseFunctions.filter((arn) => patterns.some((pattern) => iamMatches(pattern, arn) || iamMatches(pattern, `${arn}:live`)));
    expect(reached).toEqual([]);
  });

  it('notifies on-call through an encrypted, TLS-only topic with the configured email subscription', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  // On AWS, CloudWatch publishes an alarm's action as itself: a key policy naming only the account root and CDK's
  // TLS-only topic policy (which replaces SNS's default one) would let no alarm page on-call.
  it("lets this deployment's alarms, and only them, publish to the topic and use its key", () => {
    const alarmsOfThisDeployment = {
      ArnLike: { 'aws:SourceArn': `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:modelgate-dev/*` },
      StringEquals: { 'aws:SourceAccount': ACCOUNT },
    };
    const cloudWatch = (statements: Statement[]) => statements.filter((s) => JSON.stringify(s.Principal ?? {}).includes('cloudwatch.amazonaws.com')).map((s) => dev.resolve(s));
    const keyPolicy = raw.Resources[topicKey()]?.Properties?.KeyPolicy as { Statement: Statement[] };
    expect(cloudWatch(keyPolicy.Statement)).toEqual([
      {
        Sid: 'AllowCloudWatchAlarms',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Resource: '*',
        Condition: alarmsOfThisDeployment,
      },
    ]);
    const topicPolicy = raw.Resources[only('AWS::SNS::TopicPolicy')]?.Properties?.PolicyDocument as { Statement: Statement[] };
    expect(cloudWatch(topicPolicy.Statement)).toEqual([
      {
        Sid: 'AllowCloudWatchAlarms',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: dev.ref(only('AWS::SNS::Topic')),
        Condition: alarmsOfThisDeployment,
      },
    ]);
  });

  describe('fails when', () => {
    it('props are out of range, reporting every problem', () => {
      const { modelBucket, predictionLog, registry, api, serving } = stack;
      const error = thrownBy(
        () =>
          new PromotionPipeline(stack, 'Another', {
            modelBucket: modelBucket.bucket,
            predictionTable: predictionLog.table,
            registryTable: registry.table,
            api,
            serving,
            notificationEmails: ['not-an-email'],
            bakeCheckInterval: Duration.millis(1500),
            stackPollInterval: Duration.minutes(10),
            lockTtl: Duration.seconds(10),
            replayRequests: -1,
            predictionLogShards: 0,
            validationMemorySize: 512,
          }),
      ) as InvalidPropsError;
      expect(error).toBeInstanceOf(InvalidPropsError);
      expect(error.problems).toEqual([
        'notificationEmails must be email addresses, got: "not-an-email"',
        'bakeCheckInterval must be a whole number of seconds between 1 and 3600, got: 1.5',
        'stackPollInterval must be a whole number of seconds between 1 and 300, got: 600',
        'lockTtl must be a whole number of seconds between 60 and 604800, got: 10',
        'replayRequests must be an integer between 0 and 10000, got: -1',
        'predictionLogShards must be an integer between 1 and 100, got: 0',
        'validationMemorySize must be an integer between 1024 and 10240, got: 512',
      ]);
    });
  });
});
