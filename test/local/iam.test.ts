// local/iam on small templates: the IAM model across stacks, KMS key policies and SNS topic policies as
// CloudWatch alarm actions and publishers meet them (through the real LocalAlarms and LocalSns), the state
// machine's Task checks, EventBridge targets, and the S3 / DynamoDB request -> IAM action mapping.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalAlarms, alarmsFromTemplate, registerAlarmIdentities } from '../../local/alarms';
import { dynamoDbChecks } from '../../local/iam/dynamodb-gateway';
import { registerIamIdentities, stackResourcesFromTemplate } from '../../local/iam/iam-model';
import { roleSession } from '../../local/iam/identities';
import { LocalIam } from '../../local/iam/local-iam';
import { kmsChecks, s3Checks } from '../../local/iam/s3-gateway';
import { LocalMetricStore } from '../../local/metrics-store';
import { LocalSns, registerTopicIdentities, topicsFromTemplate } from '../../local/sns';
import type { CfnTemplate, ResolutionContext } from '../../local/template';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const STACK = 'iam-test';
const directory = mkdtempSync(join(tmpdir(), 'modelgate-iam-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const root = { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] } };
const ALARM_ARN_PATTERN = { 'Fn::Join': ['', ['arn:aws:cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:*']] };

interface Shape {
  /** The topic policy has CloudWatch's statement (else only CDK's enforceSSL Deny). */
  readonly topicAllowsCloudWatch: boolean;
  /** The key policy has CloudWatch's statement (else only the account root). */
  readonly keyAllowsCloudWatch: boolean;
  /** The account CloudWatch's statements trust (aws:SourceAccount). @default this account */
  readonly sourceAccount?: string;
  /** The publisher role's grants on the key. */
  readonly publisherKeyActions?: readonly string[];
}

/** A topic encrypted with its own key, an alarm that pages it, and a publisher role with sns:Publish. */
function template(shape: Shape): CfnTemplate {
  const sourceAccount = shape.sourceAccount ?? { Ref: 'AWS::AccountId' };
  const cloudWatchCondition = { StringEquals: { 'aws:SourceAccount': sourceAccount }, ArnLike: { 'aws:SourceArn': ALARM_ARN_PATTERN } };
  return {
    Resources: {
      TopicKey: {
        Type: 'AWS::KMS::Key',
        Properties: {
          KeyPolicy: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: root, Action: 'kms:*', Resource: '*' },
              ...(shape.keyAllowsCloudWatch
                ? [{ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: '*', Condition: cloudWatchCondition }]
                : []),
            ],
          },
        },
      },
      Topic: { Type: 'AWS::SNS::Topic', Properties: { KmsMasterKeyId: { 'Fn::GetAtt': ['TopicKey', 'Arn'] } } },
      TopicPolicy: {
        Type: 'AWS::SNS::TopicPolicy',
        Properties: {
          Topics: [{ Ref: 'Topic' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Sid: 'AllowPublishThroughSSLOnly', Effect: 'Deny', Principal: '*', Action: 'sns:Publish', Resource: { Ref: 'Topic' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
              ...(shape.topicAllowsCloudWatch
                ? [{ Sid: 'AllowCloudWatchAlarms', Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Resource: { Ref: 'Topic' }, Condition: cloudWatchCondition }]
                : []),
            ],
          },
        },
      },
      Alarm: {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: { AlarmName: 'iam-test/errors', Namespace: 'modelgate', MetricName: 'Errors', Statistic: 'Sum', Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', AlarmActions: [{ Ref: 'Topic' }] },
      },
      PublisherRole: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' }, Action: 'sts:AssumeRole' }] } } },
      PublisherPolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          Roles: [{ Ref: 'PublisherRole' }],
          PolicyDocument: {
            Statement: [
              { Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: 'Topic' } },
              ...(shape.publisherKeyActions ? [{ Effect: 'Allow', Action: [...shape.publisherKeyActions], Resource: { 'Fn::GetAtt': ['TopicKey', 'Arn'] } }] : []),
              { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:allowed` },
            ],
          },
        },
      },
    },
  };
}

interface Stack {
  readonly iam: LocalIam;
  readonly sns: LocalSns;
  readonly alarms: LocalAlarms;
  readonly printed: string[];
  readonly context: ResolutionContext;
}

let stacks = 0;
function start(shape: Shape): Stack {
  const t = template(shape);
  const context: ResolutionContext = { region: REGION, accountId: ACCOUNT, stackName: STACK, refs: new Map(), attributes: new Map() };
  const names = new Map(Object.keys(t.Resources).map((id) => [id, `${STACK}-${id.toLowerCase()}`]));
  for (const [id, name] of names) context.refs.set(id, name);
  registerIamIdentities(t, names, context);
  registerTopicIdentities(t, names, context);
  registerAlarmIdentities(t, names, context);
  const printed: string[] = [];
  const print = (line: string) => void printed.push(line);
  const iam = new LocalIam({ region: REGION, accountId: ACCOUNT, print });
  iam.addStack(STACK, stackResourcesFromTemplate(t, context));
  const sns = new LocalSns({ topics: topicsFromTemplate(t, context), print, authorizePublish: (caller, topicArn) => iam.authorizePublish(caller, topicArn) });
  const metrics = new LocalMetricStore({ snapshotFile: join(directory, `metrics-${stacks++}.json`) });
  const alarms = new LocalAlarms({ definitions: alarmsFromTemplate(t, context), metrics, sns, region: REGION, accountId: ACCOUNT, print });
  return { iam, sns, alarms, printed, context };
}

async function page(stack: Stack): Promise<void> {
  stack.alarms.setAlarmState('iam-test/errors', 'ALARM', 'testing the page');
  await stack.alarms.settle();
}

describe('CloudWatch alarm actions to an encrypted topic', () => {
  it('are refused when the topic policy does not let CloudWatch publish, and the console says which statement is missing', async () => {
    const stack = start({ topicAllowsCloudWatch: false, keyAllowsCloudWatch: true });
    await page(stack);
    expect(stack.sns.recentNotifications()).toEqual([]);
    const failure = stack.printed.find((line) => line.includes('Failed to execute action'));
    expect(failure).toContain(`Resource: arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:iam-test/errors is not authorized to perform: SNS:Publish`);
    expect(failure).toContain('the topic policy of iam-test-topic has no Allow for cloudwatch.amazonaws.com');
  });

  it('are refused when the key policy trusts only the account root', async () => {
    const stack = start({ topicAllowsCloudWatch: true, keyAllowsCloudWatch: false });
    await page(stack);
    expect(stack.sns.recentNotifications()).toEqual([]);
    const failure = stack.printed.find((line) => line.includes('Failed to execute action'));
    expect(failure).toContain('CloudWatch Alarms does not have authorization to access the SNS topic encryption key.');
    expect(failure).toMatch(/cloudwatch\.amazonaws\.com \(for arn:aws:cloudwatch:[^)]+\) may not kms:GenerateDataKey on arn:aws:kms:us-east-1:000000000000:key\/[0-9a-f-]+: the key policy of key\/[0-9a-f-]+ trusts only the account root/);
  });

  it('are refused when the statements trust the alarms of another account only', async () => {
    const stack = start({ topicAllowsCloudWatch: true, keyAllowsCloudWatch: true, sourceAccount: '111111111111' });
    await page(stack);
    expect(stack.sns.recentNotifications()).toEqual([]);
    expect(stack.printed.find((line) => line.includes('Failed to execute action'))).toContain('allows it only under a condition this request does not meet');
  });

  it('are delivered when both policies let CloudWatch in for this account', async () => {
    const stack = start({ topicAllowsCloudWatch: true, keyAllowsCloudWatch: true });
    await page(stack);
    expect(stack.printed.filter((line) => line.includes('Failed') || line.includes('denied'))).toEqual([]);
    expect(stack.sns.recentNotifications()[0]?.Subject).toBe('ALARM: "iam-test/errors" in US East (N. Virginia)');
  });
});

describe('a publisher of an encrypted topic (the state machine)', () => {
  const publisher = (stack: Stack) => roleSession(stack.context.attributes.get('PublisherRole.Arn') as string, 'pipeline');

  it('with sns:Publish but no grant on the key is refused with KMSAccessDenied, naming the missing key statement', async () => {
    const stack = start({ topicAllowsCloudWatch: true, keyAllowsCloudWatch: true });
    const refused = await stack.sns.publishAs(publisher(stack), stack.context.refs.get('Topic') as string, 'subject', 'message').catch((e: Error) => e);
    expect(refused).toMatchObject({ name: 'SNS.KMSAccessDeniedException' });
    expect((refused as Error).message).toMatch(/assumed-role\/iam-test-publisherrole\/pipeline is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:[^ ]+ because no identity-based policy allows the kms:GenerateDataKey action/);
    expect((refused as Error).message).toContain("no Allow in the role's policies; the key policy of key/");
    expect(stack.sns.recentNotifications()).toEqual([]);
  });

  it('with kms:GenerateDataKey but not kms:Decrypt is still refused', async () => {
    const stack = start({ topicAllowsCloudWatch: true, keyAllowsCloudWatch: true, publisherKeyActions: ['kms:GenerateDataKey*'] });
    const refused = await stack.sns.publishAs(publisher(stack), stack.context.refs.get('Topic') as string, 'subject', 'message').catch((e: Error) => e);
    expect((refused as Error).message).toContain('kms:Decrypt');
  });

  it('with kms:GenerateDataKey* and kms:Decrypt on the key publishes (the root-only key policy leaves it to IAM)', async () => {
    const stack = start({ topicAllowsCloudWatch: false, keyAllowsCloudWatch: false, publisherKeyActions: ['kms:GenerateDataKey*', 'kms:Decrypt'] });
    await stack.sns.publishAs(publisher(stack), stack.context.refs.get('Topic') as string, 'subject', 'message');
    expect(stack.sns.recentNotifications()[0]?.Subject).toBe('subject');
  });

  it("its Task calls are checked against its role: a function it may not invoke fails the Task as Lambda's AccessDenied", async () => {
    const stack = start({ topicAllowsCloudWatch: false, keyAllowsCloudWatch: false });
    const machineArn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:pipeline`;
    stack.iam.addStack('machine', { Machine: { type: 'AWS::StepFunctions::StateMachine', ref: machineArn, properties: { RoleArn: stack.context.attributes.get('PublisherRole.Arn') as string } } });
    const invoked: string[] = [];
    const guarded = stack.iam.guardTaskBindings(machineArn, { lambda: async (arn) => void invoked.push(arn) });
    await guarded.lambda(`arn:aws:lambda:${REGION}:${ACCOUNT}:function:allowed`, {});
    const refused = await guarded.lambda(`arn:aws:lambda:${REGION}:${ACCOUNT}:function:other`, {}).catch((e: Error) => e);
    expect(refused).toMatchObject({ name: 'Lambda.AWSLambdaException' });
    expect((refused as Error).message).toContain('lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:other');
    expect(invoked).toEqual([`arn:aws:lambda:${REGION}:${ACCOUNT}:function:allowed`]);
  });
});

describe('the IAM model across stacks', () => {
  it('a role gets the policies other stacks attach to it, until they are removed', async () => {
    const iam = new LocalIam({ region: REGION, accountId: ACCOUNT, print: () => undefined });
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/base-role`;
    iam.addStack('base', { Role: { type: 'AWS::IAM::Role', ref: 'base-role', arn: roleArn, properties: { Policies: [{ PolicyName: 'own', PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: '*' }] } }] } } });
    const caller = roleSession(roleArn, 'fn');
    const put = { caller, action: 'dynamodb:PutItem', resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/models` };
    expect((await iam.authorizer.decide(put)).allowed).toBe(false);
    iam.addStack('model-x', { Grant: { type: 'AWS::IAM::Policy', properties: { Roles: ['base-role'], PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: put.resource }] } } } });
    expect((await iam.authorizer.decide(put)).allowed).toBe(true);
    expect(iam.model.role(roleArn)?.policies.map((p) => p.name)).toEqual(['base/Role/own', 'model-x/Grant']);
    iam.removeStack('model-x');
    expect((await iam.authorizer.decide(put)).allowed).toBe(false);
    expect((await iam.authorizer.decide({ ...put, action: 'dynamodb:GetItem' })).allowed).toBe(true);
  });

  it("an EventBridge rule's target: a function's permission for that rule, or the target's role", async () => {
    const iam = new LocalIam({ region: REGION, accountId: ACCOUNT, print: () => undefined });
    const fn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:monitor`;
    const machine = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:pipeline`;
    const rule = (name: string) => `arn:aws:events:${REGION}:${ACCOUNT}:rule/${name}`;
    iam.addStack('s', {
      Schedule: { type: 'AWS::Events::Rule', arn: rule('schedule'), properties: { Targets: [{ Id: 'Target0', Arn: fn }] } },
      Other: { type: 'AWS::Events::Rule', arn: rule('other'), properties: { Targets: [{ Id: 'Target0', Arn: fn }, { Id: 'Target1', Arn: machine, RoleArn: `arn:aws:iam::${ACCOUNT}:role/events` }] } },
      Permission: { type: 'AWS::Lambda::Permission', properties: { Action: 'lambda:InvokeFunction', FunctionName: fn, Principal: 'events.amazonaws.com', SourceArn: rule('schedule') } },
      EventsRole: { type: 'AWS::IAM::Role', ref: 'events', arn: `arn:aws:iam::${ACCOUNT}:role/events`, properties: {} },
    });
    await iam.authorizeRuleTarget('Schedule', 'Target0', fn);
    await expect(iam.authorizeRuleTarget('Other', 'Target0', fn)).rejects.toThrow(/events\.amazonaws\.com is not authorized to perform: lambda:InvokeFunction/);
    await expect(iam.authorizeRuleTarget('Other', 'Target1', machine)).rejects.toThrow(/assumed-role\/events\/Other is not authorized to perform: states:StartExecution/);
  });
});

describe('services acting on functions and streams', () => {
  const fn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:predict`;
  const api = (path: string) => ({ restApiId: 'api123', stage: 'dev', method: 'POST', path, functionArn: `${fn}:live` });

  it("API Gateway may invoke a route's function only where its permission's SourceArn matches the method and path", async () => {
    const iam = new LocalIam({ region: REGION, accountId: ACCOUNT, print: () => undefined });
    iam.addStack('s', {
      Permission: {
        type: 'AWS::Lambda::Permission',
        properties: { Action: 'lambda:InvokeFunction', FunctionName: `${fn}:live`, Principal: 'apigateway.amazonaws.com', SourceArn: `arn:aws:execute-api:${REGION}:${ACCOUNT}:api123/dev/POST/v1/models/churn/predict` },
      },
    });
    await iam.authorizeApiInvoke(api('/v1/models/churn/predict'));
    await expect(iam.authorizeApiInvoke(api('/v1/feedback'))).rejects.toThrow(/Execution failed due to configuration error: Invalid permissions on Lambda function .*allows it only under a condition/);
    await expect(iam.authorizeApiInvoke({ ...api('/v1/models/churn/predict'), functionArn: fn })).rejects.toThrow(/Invalid permissions on Lambda function/);
  });

  it("a function's role must trust lambda.amazonaws.com, a state machine's role states.amazonaws.com for that machine", async () => {
    const iam = new LocalIam({ region: REGION, accountId: ACCOUNT, print: () => undefined });
    const machineArn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:pipeline`;
    const trust = (service: string, sourceArn?: string) => ({
      Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole', ...(sourceArn ? { Condition: { ArnLike: { 'aws:SourceArn': sourceArn } } } : {}) }],
    });
    const stack = (functionTrust: string, machineSource: string) => ({
      FnRole: { type: 'AWS::IAM::Role', ref: 'fn-role', arn: `arn:aws:iam::${ACCOUNT}:role/fn-role`, properties: { AssumeRolePolicyDocument: trust(functionTrust) } },
      Fn: { type: 'AWS::Lambda::Function', properties: { FunctionName: 'fn', Role: `arn:aws:iam::${ACCOUNT}:role/fn-role` } },
      MachineRole: { type: 'AWS::IAM::Role', ref: 'machine-role', arn: `arn:aws:iam::${ACCOUNT}:role/machine-role`, properties: { AssumeRolePolicyDocument: trust('states.amazonaws.com', machineSource) } },
      Machine: { type: 'AWS::StepFunctions::StateMachine', ref: machineArn, properties: { RoleArn: `arn:aws:iam::${ACCOUNT}:role/machine-role` } },
    });
    iam.addStack('s', stack('lambda.amazonaws.com', `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:*`));
    await iam.checkRoleTrust();
    iam.addStack('s', stack('ec2.amazonaws.com', `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:*`));
    await expect(iam.checkRoleTrust()).rejects.toThrow(/s\/Fn: the role arn:aws:iam::000000000000:role\/fn-role cannot be assumed by lambda\.amazonaws\.com/);
    iam.addStack('s', stack('lambda.amazonaws.com', `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:other`));
    await expect(iam.checkRoleTrust()).rejects.toThrow(/s\/Machine: the role .*machine-role cannot be assumed by states\.amazonaws\.com .*allows it only under a condition/);
  });

  it("an event source mapping needs the function's role to read the stream", async () => {
    const iam = new LocalIam({ region: REGION, accountId: ACCOUNT, print: () => undefined });
    const stream = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/log/stream/local`;
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/aggregator`;
    const reads = ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'];
    const stack = (actions: readonly string[]) => ({
      Fn: { type: 'AWS::Lambda::Function', properties: { FunctionName: 'aggregator', Role: roleArn } },
      Role: { type: 'AWS::IAM::Role', ref: 'aggregator', arn: roleArn, properties: {} },
      Grant: { type: 'AWS::IAM::Policy', properties: { Roles: ['aggregator'], PolicyDocument: { Statement: [{ Effect: 'Allow', Action: [...actions], Resource: stream }, { Effect: 'Allow', Action: 'dynamodb:ListStreams', Resource: '*' }] } } },
    });
    iam.addStack('s', stack(reads.slice(0, 2)));
    await expect(iam.checkStreamMapping('aggregator', stream)).rejects.toThrow(/Cannot access stream .*may not dynamodb:GetShardIterator/);
    iam.addStack('s', stack(reads));
    await iam.checkStreamMapping('aggregator', stream);
  });
});

describe('requests -> IAM actions', () => {
  const headers = {};
  const q = (text = '') => new URLSearchParams(text);

  it('S3: object and bucket operations, copies, versions, DeleteObjects', () => {
    expect(s3Checks('GET', 'b', 'models/m/1/model.onnx', q(), headers)).toEqual([{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/models/m/1/model.onnx' }]);
    expect(s3Checks('HEAD', 'b', 'k', q('versionId=3'), headers)).toEqual([{ action: 's3:GetObjectVersion', resource: 'arn:aws:s3:::b/k' }]);
    expect(s3Checks('GET', 'b', undefined, q('list-type=2&prefix=models/'), headers)).toEqual([{ action: 's3:ListBucket', resource: 'arn:aws:s3:::b', context: { 's3:prefix': 'models/' } }]);
    expect(s3Checks('PUT', 'b', 'models/m/2/x', q(), { 'x-amz-copy-source': 'b/candidates/m/2/x' })).toEqual([
      { action: 's3:PutObject', resource: 'arn:aws:s3:::b/models/m/2/x' },
      { action: 's3:GetObject', resource: 'arn:aws:s3:::b/candidates/m/2/x' },
    ]);
    expect(s3Checks('PUT', 'b', undefined, q('notification'), headers)).toEqual([{ action: 's3:PutBucketNotification', resource: 'arn:aws:s3:::b' }]);
    expect(s3Checks('POST', 'b', undefined, q('delete'), headers, ['a', 'c/d'])).toEqual([
      { action: 's3:DeleteObject', resource: 'arn:aws:s3:::b/a' },
      { action: 's3:DeleteObject', resource: 'arn:aws:s3:::b/c/d' },
    ]);
    expect(s3Checks('DELETE', 'b', 'k', q('uploadId=u'), headers)).toEqual([{ action: 's3:AbortMultipartUpload', resource: 'arn:aws:s3:::b/k' }]);
  });

  it('S3 with a KMS bucket key: Decrypt to read, GenerateDataKey to write, none to HEAD or delete', () => {
    const iam = new LocalIam({ region: REGION, accountId: ACCOUNT, print: () => undefined });
    const key = `arn:aws:kms:${REGION}:${ACCOUNT}:key/k`;
    iam.addStack('s', {
      Encrypted: { type: 'AWS::S3::Bucket', ref: 'enc', properties: { BucketEncryption: { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: key } }] } } },
      Plain: { type: 'AWS::S3::Bucket', ref: 'plain', properties: {} },
    });
    const context = { 'kms:ViaService': 's3.us-east-1.amazonaws.com', 'kms:CallerAccount': ACCOUNT, 'kms:EncryptionContext:aws:s3:arn': 'arn:aws:s3:::enc' };
    const kms = (method: string, bucket: string, query = q(), extra = {}) => kmsChecks(method, bucket, 'k', query, extra, iam.model, REGION, ACCOUNT);
    expect(kms('GET', 'enc')).toEqual([{ action: 'kms:Decrypt', resource: key, context }]);
    expect(kms('PUT', 'enc')).toEqual([{ action: 'kms:GenerateDataKey', resource: key, context }]);
    expect(kms('POST', 'enc', q('uploads')).map((c) => c.action)).toEqual(['kms:GenerateDataKey', 'kms:Decrypt']);
    expect(kms('HEAD', 'enc')).toEqual([]);
    expect(kms('DELETE', 'enc')).toEqual([]);
    expect(kms('GET', 'plain')).toEqual([]);
    expect(kms('PUT', 'plain', q(), { 'x-amz-copy-source': 'enc/src' }).map((c) => c.action)).toEqual(['kms:Decrypt']);
  });

  it('DynamoDB: one check per table or index a request touches', () => {
    const table = (name: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
    expect(dynamoDbChecks('PutItem', { TableName: 'log' }, REGION, ACCOUNT)).toEqual([{ action: 'dynamodb:PutItem', resource: table('log') }]);
    expect(dynamoDbChecks('Query', { TableName: 'log', IndexName: 'byModelVersion' }, REGION, ACCOUNT)).toEqual([{ action: 'dynamodb:Query', resource: `${table('log')}/index/byModelVersion` }]);
    expect(dynamoDbChecks('BatchWriteItem', { RequestItems: { a: [], b: [] } }, REGION, ACCOUNT)).toEqual([
      { action: 'dynamodb:BatchWriteItem', resource: table('a') },
      { action: 'dynamodb:BatchWriteItem', resource: table('b') },
    ]);
    expect(dynamoDbChecks('TransactWriteItems', { TransactItems: [{ Put: { TableName: 'a' } }, { ConditionCheck: { TableName: 'b' } }] }, REGION, ACCOUNT)).toEqual([
      { action: 'dynamodb:PutItem', resource: table('a') },
      { action: 'dynamodb:ConditionCheckItem', resource: table('b') },
    ]);
    expect(dynamoDbChecks('ListTables', {}, REGION, ACCOUNT)).toEqual([{ action: 'dynamodb:ListTables', resource: '*' }]);
  });
});
