// local/iam on small stacks created through the local CloudFormation, wired to LocalIam as the runtime wires
// them: the IAM model follows every stack created, updated and deleted; KMS key policies and SNS topic policies
// as CloudWatch alarm actions and publishers meet them (through the real LocalAlarms and LocalSns); permissions
// boundaries; CloudFormation acting as a stack's service role (its API checks, each resource's handler calls,
// what Lambda and Step Functions check of the roles they are given); the state machine's Task checks,
// EventBridge targets, API Gateway invocations; the S3 / DynamoDB request -> IAM action mapping.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, CreateStackCommand, DeleteStackCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalAlarms } from '../../local/alarms';
import { LocalApiGateway } from '../../local/api-gateway';
import { startCloudFormationApi } from '../../local/cloudformation/api';
import { provisioners } from '../../local/cloudformation/provisioners';
import { LocalCloudFormation, type StackState } from '../../local/cloudformation/stacks';
import { startDynamoDbStreams, streamedTable, type LocalDynamoDbStreams } from '../../local/dynamodb-streams';
import { LocalEventBridge } from '../../local/eventbridge';
import { dynamoDbChecks } from '../../local/iam/dynamodb-gateway';
import { roleSession } from '../../local/iam/identities';
import { LocalIam } from '../../local/iam/local-iam';
import { kmsChecks, s3Checks } from '../../local/iam/s3-gateway';
import { LocalLambdaService } from '../../local/lambda-service';
import { LocalMetricStore } from '../../local/metrics-store';
import { LocalSns } from '../../local/sns';
import { LocalStepFunctions } from '../../local/step-functions';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const directory = mkdtempSync(join(tmpdir(), 'modelgate-iam-'));
const closers: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  rmSync(directory, { recursive: true, force: true });
});

type Template = { Parameters?: Record<string, unknown>; Resources: Record<string, unknown> };

interface Local {
  readonly iam: LocalIam;
  readonly sns: LocalSns;
  readonly alarms: LocalAlarms;
  readonly lambda: LocalLambdaService;
  readonly cloudFormation: LocalCloudFormation;
  readonly printed: string[];
  /** Creates (or updates) a stack and waits for it; as the operator unless `roleArn` names its service role. */
  deploy(stackName: string, template: Template, options?: { roleArn?: string; tags?: { Key: string; Value: string }[] }): Promise<StackState>;
  remove(stackName: string): Promise<void>;
}

let instances = 0;
let streams: LocalDynamoDbStreams | undefined;

/** The local AWS services a stack's resources go into, and the local CloudFormation over them, followed by LocalIam. */
async function local(): Promise<Local> {
  const dir = join(directory, String(instances++));
  const printed: string[] = [];
  const print = (line: string) => void printed.push(line);
  const lambda = new LocalLambdaService({ region: REGION, accountId: ACCOUNT, stateFile: join(dir, 'lambda.json'), baseEnvironment: {}, onLogLine: () => undefined });
  closers.push(() => lambda.close());
  const iam = new LocalIam({ region: REGION, accountId: ACCOUNT, print, functionPolicy: (name, qualifier) => lambda.policy(name, qualifier) });
  const sns = new LocalSns({ topics: [], print, authorizePublish: (caller, topicArn) => iam.authorizePublish(caller, topicArn) });
  const alarms = new LocalAlarms({ definitions: [], metrics: new LocalMetricStore({ snapshotFile: join(dir, 'metrics.json') }), sns, region: REGION, accountId: ACCOUNT, print });
  // Nothing here writes to DynamoDB: the proxy only carries stream subscriptions.
  streams ??= await startDynamoDbStreams({ target: 'http://127.0.0.1:9', tables: [], region: REGION, host: '127.0.0.1' });
  const sharedStreams = streams;
  if (instances === 1) closers.push(() => sharedStreams.close());
  const stepFunctions = new LocalStepFunctions({ machines: [], bindings: { lambda: async () => undefined }, directory: join(dir, 'executions'), print });
  const cloudFormation: LocalCloudFormation = new LocalCloudFormation({
    region: REGION,
    accountId: ACCOUNT,
    directory: join(dir, 'cloudformation'),
    provisioners: provisioners({
      region: REGION,
      accountId: ACCOUNT,
      repoRoot: directory,
      assetDirectory: () => directory,
      lambda,
      gateway: new LocalApiGateway({ stateFile: join(dir, 'apigateway.json'), region: REGION, accountId: ACCOUNT }),
      // No resource here creates a bucket or a table: the clients are never called.
      s3: new S3Client({ endpoint: 'http://127.0.0.1:9', region: REGION }),
      dynamodb: new DynamoDBClient({ endpoint: 'http://127.0.0.1:9', region: REGION }),
      streams: sharedStreams,
      sns,
      alarms,
      eventBridge: new LocalEventBridge({ region: REGION, accountId: ACCOUNT, deliver: async () => undefined, print }),
      stepFunctions,
      dashboards: new Map(),
    }),
    roleExists: (arn) => cloudFormation.resources('AWS::IAM::Role').some((role) => role.attributes.Arn === arn),
    authorizeResource: (change) => iam.authorizeResourceChange(change),
    onResourcesChanged: (stack) => iam.followStack(stack),
  });
  return {
    iam,
    sns,
    alarms,
    lambda,
    cloudFormation,
    printed,
    async deploy(stackName, template, options = {}) {
      const request = {
        stackName,
        templateBody: JSON.stringify(template),
        capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'],
        ...(options.roleArn ? { roleArn: options.roleArn } : {}),
        ...(options.tags ? { tags: options.tags } : {}),
      };
      if (cloudFormation.listStacks().some((s) => s.stackName === stackName)) cloudFormation.updateStack(request);
      else cloudFormation.createStack(request);
      return cloudFormation.settle(stackName);
    },
    async remove(stackName) {
      cloudFormation.deleteStack(stackName);
      await cloudFormation.settle(stackName).catch(() => undefined);
    },
  };
}

const root = { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] } };
const ALARM_ARN_PATTERN = { 'Fn::Join': ['', ['arn:aws:cloudwatch:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':alarm:*']] };
const trust = (service: string, condition?: object) => ({
  Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole', ...(condition ? { Condition: condition } : {}) }],
});
const statements = (...list: object[]) => ({ Version: '2012-10-17', Statement: list });

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
function pagingTemplate(shape: Shape): Template {
  const sourceAccount = shape.sourceAccount ?? { Ref: 'AWS::AccountId' };
  const cloudWatchCondition = { StringEquals: { 'aws:SourceAccount': sourceAccount }, ArnLike: { 'aws:SourceArn': ALARM_ARN_PATTERN } };
  return {
    Resources: {
      TopicKey: {
        Type: 'AWS::KMS::Key',
        Properties: {
          KeyPolicy: statements(
            { Effect: 'Allow', Principal: root, Action: 'kms:*', Resource: '*' },
            ...(shape.keyAllowsCloudWatch
              ? [
                  {
                    Effect: 'Allow',
                    Principal: { Service: 'cloudwatch.amazonaws.com' },
                    Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
                    Resource: '*',
                    Condition: cloudWatchCondition,
                  },
                ]
              : []),
          ),
        },
      },
      Topic: { Type: 'AWS::SNS::Topic', Properties: { TopicName: 'iam-test-topic', KmsMasterKeyId: { 'Fn::GetAtt': ['TopicKey', 'Arn'] } } },
      TopicPolicy: {
        Type: 'AWS::SNS::TopicPolicy',
        Properties: {
          Topics: [{ Ref: 'Topic' }],
          PolicyDocument: statements(
            {
              Sid: 'AllowPublishThroughSSLOnly',
              Effect: 'Deny',
              Principal: '*',
              Action: 'sns:Publish',
              Resource: { Ref: 'Topic' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
            ...(shape.topicAllowsCloudWatch
              ? [
                  {
                    Sid: 'AllowCloudWatchAlarms',
                    Effect: 'Allow',
                    Principal: { Service: 'cloudwatch.amazonaws.com' },
                    Action: 'sns:Publish',
                    Resource: { Ref: 'Topic' },
                    Condition: cloudWatchCondition,
                  },
                ]
              : []),
          ),
        },
      },
      Alarm: {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmName: 'iam-test/errors',
          Namespace: 'modelgate',
          MetricName: 'Errors',
          Statistic: 'Sum',
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          AlarmActions: [{ Ref: 'Topic' }],
        },
      },
      PublisherRole: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'iam-test-publisher', AssumeRolePolicyDocument: trust('states.amazonaws.com') } },
      PublisherPolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'publisher',
          Roles: [{ Ref: 'PublisherRole' }],
          PolicyDocument: statements(
            { Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: 'Topic' } },
            ...(shape.publisherKeyActions ? [{ Effect: 'Allow', Action: [...shape.publisherKeyActions], Resource: { 'Fn::GetAtt': ['TopicKey', 'Arn'] } }] : []),
            { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:allowed` },
            { Effect: 'Allow', Action: 'apigateway:POST', Resource: `arn:aws:apigateway:${REGION}::/restapis/api123/deployments` },
          ),
        },
      },
    },
  };
}

const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:iam-test-topic`;
const PUBLISHER_ROLE = `arn:aws:iam::${ACCOUNT}:role/iam-test-publisher`;

async function paging(shape: Shape): Promise<Local> {
  const stacks = await local();
  expect((await stacks.deploy('iam-test', pagingTemplate(shape))).status).toBe('CREATE_COMPLETE');
  return stacks;
}

async function page(stacks: Local): Promise<void> {
  stacks.alarms.setAlarmState('iam-test/errors', 'ALARM', 'testing the page');
  await stacks.alarms.settle();
}

describe('CloudWatch alarm actions to an encrypted topic', () => {
  it('are refused when the topic policy does not let CloudWatch publish, and the console says which statement is missing', async () => {
    const stacks = await paging({ topicAllowsCloudWatch: false, keyAllowsCloudWatch: true });
    await page(stacks);
    expect(stacks.sns.recentNotifications()).toEqual([]);
    const failure = stacks.printed.find((line) => line.includes('Failed to execute action'));
    expect(failure).toContain(`Resource: arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:iam-test/errors is not authorized to perform: SNS:Publish`);
    expect(failure).toContain('the topic policy of iam-test-topic has no Allow for cloudwatch.amazonaws.com');
  });

  it('are refused when the key policy trusts only the account root', async () => {
    const stacks = await paging({ topicAllowsCloudWatch: true, keyAllowsCloudWatch: false });
    await page(stacks);
    expect(stacks.sns.recentNotifications()).toEqual([]);
    const failure = stacks.printed.find((line) => line.includes('Failed to execute action'));
    expect(failure).toContain('CloudWatch Alarms does not have authorization to access the SNS topic encryption key.');
    expect(failure).toMatch(
      /cloudwatch\.amazonaws\.com \(for arn:aws:cloudwatch:[^)]+\) may not kms:GenerateDataKey on arn:aws:kms:us-east-1:000000000000:key\/[0-9a-f-]+: the key policy of key\/[0-9a-f-]+ trusts only the account root/,
    );
  });

  it('are refused when the statements trust the alarms of another account only', async () => {
    const stacks = await paging({ topicAllowsCloudWatch: true, keyAllowsCloudWatch: true, sourceAccount: '111111111111' });
    await page(stacks);
    expect(stacks.sns.recentNotifications()).toEqual([]);
    expect(stacks.printed.find((line) => line.includes('Failed to execute action'))).toContain('allows it only under a condition this request does not meet');
  });

  it('are delivered when both policies let CloudWatch in for this account', async () => {
    const stacks = await paging({ topicAllowsCloudWatch: true, keyAllowsCloudWatch: true });
    await page(stacks);
    expect(stacks.printed.filter((line) => line.includes('Failed') || line.includes('denied'))).toEqual([]);
    expect(stacks.sns.recentNotifications()[0]?.Subject).toBe('ALARM: "iam-test/errors" in US East (N. Virginia)');
  });
});

describe('a publisher of an encrypted topic (the state machine)', () => {
  const publisher = roleSession(PUBLISHER_ROLE, 'pipeline');

  it('with sns:Publish but no grant on the key is refused with KMSAccessDenied, naming the missing key statement', async () => {
    const stacks = await paging({ topicAllowsCloudWatch: true, keyAllowsCloudWatch: true });
    const refused = await stacks.sns.publishAs(publisher, TOPIC_ARN, 'subject', 'message').catch((e: Error) => e);
    expect(refused).toMatchObject({ name: 'SNS.KMSAccessDeniedException' });
    expect((refused as Error).message).toMatch(
      /assumed-role\/iam-test-publisher\/pipeline is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:[^ ]+ because no identity-based policy allows the kms:GenerateDataKey action/,
    );
    expect((refused as Error).message).toContain("no Allow in the role's policies; the key policy of key/");
    expect(stacks.sns.recentNotifications()).toEqual([]);
  });

  it('with kms:GenerateDataKey but not kms:Decrypt is still refused', async () => {
    const stacks = await paging({ topicAllowsCloudWatch: true, keyAllowsCloudWatch: true, publisherKeyActions: ['kms:GenerateDataKey*'] });
    const refused = await stacks.sns.publishAs(publisher, TOPIC_ARN, 'subject', 'message').catch((e: Error) => e);
    expect((refused as Error).message).toContain('kms:Decrypt');
  });

  it('with kms:GenerateDataKey* and kms:Decrypt on the key publishes (the root-only key policy leaves it to IAM)', async () => {
    const stacks = await paging({ topicAllowsCloudWatch: false, keyAllowsCloudWatch: false, publisherKeyActions: ['kms:GenerateDataKey*', 'kms:Decrypt'] });
    await stacks.sns.publishAs(publisher, TOPIC_ARN, 'subject', 'message');
    expect(stacks.sns.recentNotifications()[0]?.Subject).toBe('subject');
  });

  it("its Task calls are checked against its role: a function it may not invoke, an API it may not deploy fail the Task as the service's AccessDenied", async () => {
    const stacks = await paging({ topicAllowsCloudWatch: false, keyAllowsCloudWatch: false });
    const machine = await stacks.deploy('machine', {
      Resources: {
        Machine: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: { StateMachineName: 'pipeline', RoleArn: PUBLISHER_ROLE, DefinitionString: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }) },
        },
      },
    });
    const machineArn = machine.resources.Machine?.physicalId as string;
    const called: string[] = [];
    const guarded = stacks.iam.guardTaskBindings(machineArn, {
      lambda: async (arn) => void called.push(arn),
      awsSdk: async (service, action) => void called.push(`${service}:${action}`),
    });
    await guarded.lambda(`arn:aws:lambda:${REGION}:${ACCOUNT}:function:allowed`, {});
    const refused = await guarded.lambda(`arn:aws:lambda:${REGION}:${ACCOUNT}:function:other`, {}).catch((e: Error) => e);
    expect(refused).toMatchObject({ name: 'Lambda.AWSLambdaException' });
    expect((refused as Error).message).toContain('lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:other');
    await guarded.awsSdk?.('apigateway', 'createDeployment', { RestApiId: 'api123', StageName: 'dev' });
    const otherApi = await guarded.awsSdk?.('apigateway', 'createDeployment', { RestApiId: 'other', StageName: 'dev' }).catch((e: Error) => e);
    expect(otherApi).toMatchObject({ name: 'ApiGateway.AccessDeniedException' });
    expect((otherApi as Error).message).toContain(`apigateway:POST on resource: arn:aws:apigateway:${REGION}::/restapis/other/deployments`);
    expect(called).toEqual([`arn:aws:lambda:${REGION}:${ACCOUNT}:function:allowed`, 'apigateway:createDeployment']);
  });
});

describe('the IAM model follows the stacks', () => {
  const table = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/models`;
  const baseRole = {
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: 'base-role',
      AssumeRolePolicyDocument: trust('lambda.amazonaws.com'),
      Policies: [{ PolicyName: 'own', PolicyDocument: statements({ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: '*' }) }],
    },
  };
  const grant = (action: string) => ({
    Resources: {
      Grant: {
        Type: 'AWS::IAM::Policy',
        Properties: { PolicyName: 'grant', Roles: ['base-role'], PolicyDocument: statements({ Effect: 'Allow', Action: action, Resource: table }) },
      },
    },
  });

  it('a role gets the policies other stacks attach to it as they are created, updated and deleted', async () => {
    const stacks = await local();
    await stacks.deploy('base', { Resources: { Role: baseRole } });
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/base-role`;
    const caller = roleSession(roleArn, 'fn');
    const decide = async (action: string) => (await stacks.iam.authorizer.decide({ caller, action, resource: table })).allowed;
    expect(await decide('dynamodb:PutItem')).toBe(false);
    await stacks.deploy('model-x', grant('dynamodb:PutItem'));
    expect(await decide('dynamodb:PutItem')).toBe(true);
    expect(stacks.iam.model.role(roleArn)?.policies.map((p) => p.name)).toEqual(['base/Role/own', 'model-x/Grant']);
    await stacks.deploy('model-x', grant('dynamodb:DeleteItem'));
    expect(await decide('dynamodb:PutItem')).toBe(false);
    expect(await decide('dynamodb:DeleteItem')).toBe(true);
    await stacks.remove('model-x');
    expect(await decide('dynamodb:DeleteItem')).toBe(false);
    expect(await decide('dynamodb:GetItem')).toBe(true);
  });

  it('a function created by a stack signs with credentials of its own role, known from the resource that created it', async () => {
    const stacks = await local();
    await stacks.deploy('fn', {
      Resources: {
        Role: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'fn-role', AssumeRolePolicyDocument: trust('lambda.amazonaws.com') } },
        Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'fn', Role: { 'Fn::GetAtt': ['Role', 'Arn'] } } },
      },
    });
    const credentials = stacks.iam.functionCredentials('fn');
    expect(stacks.iam.identities.callerOf(credentials.accessKeyId)).toMatchObject({
      kind: 'role',
      principal: `arn:aws:sts::${ACCOUNT}:assumed-role/fn-role/fn`,
      roleArn: `arn:aws:iam::${ACCOUNT}:role/fn-role`,
    });
    expect(credentials.accessKeyId).not.toBe(stacks.iam.functionCredentials('other').accessKeyId);
  });
});

describe('a permissions boundary', () => {
  const logTable = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/log`;
  const template: Template = {
    Resources: {
      Boundary: {
        Type: 'AWS::IAM::ManagedPolicy',
        Properties: { PolicyDocument: statements({ Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: '*' }) },
      },
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: 'bounded',
          AssumeRolePolicyDocument: trust('lambda.amazonaws.com'),
          PermissionsBoundary: { Ref: 'Boundary' },
          Policies: [{ PolicyName: 'wide', PolicyDocument: statements({ Effect: 'Allow', Action: 'dynamodb:*', Resource: '*' }) }],
        },
      },
    },
  };

  it('caps what the role may do: its own policies allow every DynamoDB action, the boundary two', async () => {
    const stacks = await local();
    await stacks.deploy('bounded', template);
    const caller = roleSession(`arn:aws:iam::${ACCOUNT}:role/bounded`, 'fn');
    expect((await stacks.iam.authorizer.decide({ caller, action: 'dynamodb:PutItem', resource: logTable })).allowed).toBe(true);
    const refused = await stacks.iam.authorizer.decide({ caller, action: 'dynamodb:DeleteItem', resource: logTable });
    expect(refused.allowed).toBe(false);
    expect(refused.awsMessage).toBe(
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/bounded/fn is not authorized to perform: dynamodb:DeleteItem on resource: ${logTable} because no permissions boundary allows the dynamodb:DeleteItem action`,
    );
    expect(refused.explanation).toBe("the role's policies allow it; its permissions boundary bounded/Boundary does not allow it");
  });

  it('must exist: a role whose boundary names no policy of the account fails as IAM fails CreateRole', async () => {
    const stacks = await local();
    const missing = `arn:aws:iam::${ACCOUNT}:policy/nowhere`;
    const stack = await stacks.deploy('unbounded', {
      Resources: { Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: trust('lambda.amazonaws.com'), PermissionsBoundary: missing } } },
    });
    expect(stack.status).toBe('ROLLBACK_COMPLETE');
    expect(stack.events.find((e) => e.ResourceStatus === 'CREATE_FAILED')?.ResourceStatusReason).toBe(`Scope ARN: ${missing} does not exist or is not attachable.`);
  });
});

describe('CloudFormation with a service role', () => {
  const FUNCTION = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:model-fn`;
  /** The base: a boundary, and CloudFormation's role, allowed what `grants` says. */
  const base = (grants: object[]): Template => ({
    Resources: {
      Boundary: {
        Type: 'AWS::IAM::ManagedPolicy',
        Properties: { ManagedPolicyName: 'model-boundary', PolicyDocument: statements({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }) },
      },
      CloudFormationRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: 'cfn-role',
          AssumeRolePolicyDocument: trust('cloudformation.amazonaws.com'),
          Policies: [{ PolicyName: 'grants', PolicyDocument: statements(...grants) }],
        },
      },
    },
  });
  const BOUNDARY = `arn:aws:iam::${ACCOUNT}:policy/model-boundary`;
  const ROLE = `arn:aws:iam::${ACCOUNT}:role/cfn-role`;
  const roles = `arn:aws:iam::${ACCOUNT}:role/model-*`;
  const modelStack: Template = {
    Resources: {
      Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: trust('lambda.amazonaws.com'), PermissionsBoundary: BOUNDARY } },
      Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'model-fn', Role: { 'Fn::GetAtt': ['Role', 'Arn'] }, Code: { S3Bucket: 'assets', S3Key: 'code.zip' } } },
    },
  };
  const everything = [
    { Effect: 'Allow', Action: 'iam:CreateRole', Resource: roles, Condition: { StringEquals: { 'iam:PermissionsBoundary': BOUNDARY } } },
    { Effect: 'Allow', Action: ['iam:DeleteRole', 'iam:TagRole'], Resource: roles },
    { Effect: 'Allow', Action: 'iam:PassRole', Resource: roles, Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } } },
    { Effect: 'Allow', Action: ['lambda:CreateFunction', 'lambda:DeleteFunction', 'lambda:TagResource'], Resource: FUNCTION },
    { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::assets/code.zip' },
  ];
  const failureOf = (stack: StackState) => stack.events.find((e) => e.ResourceStatus === 'CREATE_FAILED')?.ResourceStatusReason ?? '';

  it('creates, tags and deletes what its role is granted, the role carrying the boundary its grant requires', async () => {
    const stacks = await local();
    await stacks.deploy('base', base(everything));
    const stack = await stacks.deploy('model', modelStack, { roleArn: ROLE, tags: [{ Key: 'model', Value: 'x' }] });
    expect(stack.status).toBe('CREATE_COMPLETE');
    await stacks.remove('model');
    expect(stacks.cloudFormation.describeStack(stack.stackId).status).toBe('DELETE_COMPLETE');
  });

  it.each([
    [
      'lambda:CreateFunction',
      (grants: object[]) => grants.map((g) => (JSON.stringify(g).includes('lambda:CreateFunction') ? { ...g, Action: ['lambda:DeleteFunction'] } : g)),
      'Fn',
      `lambda:CreateFunction on resource: ${FUNCTION}`,
    ],
    [
      'iam:PassRole of the function role',
      (grants: object[]) => grants.filter((g) => !JSON.stringify(g).includes('iam:PassRole')),
      'Fn',
      'iam:PassRole on resource: arn:aws:iam::000000000000:role/model-role',
    ],
    [
      's3:GetObject of the code',
      (grants: object[]) => grants.filter((g) => !JSON.stringify(g).includes('s3:GetObject')),
      'Fn',
      's3:GetObject on resource: arn:aws:s3:::assets/code.zip',
    ],
    [
      'iam:CreateRole without its boundary condition met',
      (grants: object[]) =>
        grants.map((g) =>
          JSON.stringify(g).includes('iam:CreateRole') ? { ...g, Condition: { StringEquals: { 'iam:PermissionsBoundary': `arn:aws:iam::${ACCOUNT}:policy/other` } } } : g,
        ),
      'Role',
      'iam:CreateRole on resource: arn:aws:iam::000000000000:role/model-role',
    ],
  ])('fails the resource when the role lacks %s, with the handler message CloudFormation reports', async (_, narrow, failed, denied) => {
    const stacks = await local();
    await stacks.deploy('base', base(narrow(everything)));
    const stack = await stacks.deploy('model', modelStack, { roleArn: ROLE });
    expect(stack.status).toBe('ROLLBACK_COMPLETE');
    expect(stack.statusReason).toBe(`The following resource(s) failed to create: [${failed}]. Rollback requested by user.`);
    expect(failureOf(stack)).toContain(
      `Resource handler returned message: "User: arn:aws:sts::${ACCOUNT}:assumed-role/cfn-role/AWSCloudFormation is not authorized to perform: ${denied}`,
    );
    expect(failureOf(stack)).toContain('(HandlerErrorCode: AccessDenied)');
  });

  it('a type whose handler calls the runtime does not know is refused to a role, not assumed granted; the operator may', async () => {
    const stacks = await local();
    const stack = (await stacks.deploy('base', base(everything))) as StackState;
    const change = (roleArn?: string) => ({
      action: 'create' as const,
      stack: { ...stack, ...(roleArn ? { roleArn } : {}) },
      resource: { stackName: 'base', logicalId: 'Odd', type: 'AWS::Odd::Thing', properties: {}, metadata: {}, physicalName: 'odd' },
    });
    await expect(stacks.iam.authorizeResourceChange(change(ROLE))).rejects.toThrow(
      `the local runtime does not know which calls CloudFormation makes to create a AWS::Odd::Thing (docs/local-runtime.md), so it does not do it as arn:aws:sts::${ACCOUNT}:assumed-role/cfn-role/AWSCloudFormation`,
    );
    await stacks.iam.authorizeResourceChange(change());
  });

  it('a function whose role Lambda may not assume fails as Lambda fails it, whoever creates it', async () => {
    const stacks = await local();
    const stack = await stacks.deploy('fn', {
      Resources: {
        Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: trust('ec2.amazonaws.com') } },
        Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'fn', Role: { 'Fn::GetAtt': ['Role', 'Arn'] } } },
      },
    });
    expect(stack.status).toBe('ROLLBACK_COMPLETE');
    expect(failureOf(stack)).toBe(
      'The role defined for the function cannot be assumed by Lambda. (local IAM: lambda.amazonaws.com may not sts:AssumeRole on arn:aws:iam::000000000000:role/fn-role: the trust policy of role/fn-role has no Allow for lambda.amazonaws.com)',
    );
  });

  it('a state machine whose role trusts Step Functions for other machines only fails as Step Functions fails it', async () => {
    const stacks = await local();
    const machineRole = (machines: string) => ({
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: 'machine-role',
        AssumeRolePolicyDocument: trust('states.amazonaws.com', { ArnLike: { 'aws:SourceArn': `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${machines}` } }),
      },
    });
    const machine = {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        StateMachineName: 'pipeline',
        RoleArn: { 'Fn::GetAtt': ['MachineRole', 'Arn'] },
        DefinitionString: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
      },
    };
    expect((await stacks.deploy('other', { Resources: { MachineRole: machineRole('other'), Machine: machine } })).status).toBe('ROLLBACK_COMPLETE');
    expect((await stacks.deploy('same', { Resources: { MachineRole: machineRole('pipeline'), Machine: machine } })).status).toBe('CREATE_COMPLETE');
  });

  it("a stream mapping whose function's role cannot read the stream fails as Lambda fails it", async () => {
    const stacks = await local();
    const stream = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/log/stream/local`;
    const template = (actions: string[]): Template => ({
      Resources: {
        Role: {
          Type: 'AWS::IAM::Role',
          Properties: {
            RoleName: 'aggregator-role',
            AssumeRolePolicyDocument: trust('lambda.amazonaws.com'),
            Policies: [
              {
                PolicyName: 'read',
                PolicyDocument: statements({ Effect: 'Allow', Action: actions, Resource: stream }, { Effect: 'Allow', Action: 'dynamodb:ListStreams', Resource: '*' }),
              },
            ],
          },
        },
        Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'aggregator', Role: { 'Fn::GetAtt': ['Role', 'Arn'] } } },
        Mapping: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { FunctionName: { Ref: 'Fn' }, EventSourceArn: stream, StartingPosition: 'LATEST' } },
      },
    });
    (streams as LocalDynamoDbStreams).addTable(
      streamedTable('log', stream, { StreamSpecification: { StreamViewType: 'NEW_IMAGE' }, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }) as NonNullable<
        ReturnType<typeof streamedTable>
      >,
    );
    const refused = await stacks.deploy('narrow', template(['dynamodb:DescribeStream', 'dynamodb:GetRecords']));
    expect(failureOf(refused)).toMatch(/^Cannot access stream .*may not dynamodb:GetShardIterator/);
    await stacks.remove('narrow');
    expect((await stacks.deploy('wide', template(['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator']))).status).toBe('CREATE_COMPLETE');
  });
});

describe('the CloudFormation API', () => {
  it('refuses a caller without cloudformation:* on the stack or iam:PassRole on its RoleARN, and a role CloudFormation may not assume', async () => {
    const stacks = await local();
    const api = await startCloudFormationApi({
      cloudFormation: () => stacks.cloudFormation,
      host: '127.0.0.1',
      authorize: (headers, call) => stacks.iam.cloudFormationRefusal(headers, call),
    });
    closers.push(() => api.close());
    const stackArns = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/model-*/*`;
    await stacks.deploy('base', {
      Resources: {
        CfnRole: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'cfn-role', AssumeRolePolicyDocument: trust('cloudformation.amazonaws.com') } },
        Untrusting: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'ec2-role', AssumeRolePolicyDocument: trust('ec2.amazonaws.com') } },
        Provisioner: {
          Type: 'AWS::IAM::Role',
          Properties: {
            RoleName: 'provision-role',
            AssumeRolePolicyDocument: trust('lambda.amazonaws.com'),
            Policies: [
              {
                PolicyName: 'provision',
                PolicyDocument: statements(
                  { Effect: 'Allow', Action: ['cloudformation:CreateStack', 'cloudformation:DeleteStack'], Resource: stackArns },
                  {
                    Effect: 'Allow',
                    Action: 'iam:PassRole',
                    Resource: [`arn:aws:iam::${ACCOUNT}:role/cfn-role`, `arn:aws:iam::${ACCOUNT}:role/ec2-role`],
                    Condition: { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } },
                  },
                ),
              },
            ],
          },
        },
      },
    });
    const client = new CloudFormationClient({
      endpoint: api.endpoint,
      region: REGION,
      credentials: stacks.iam.identities.issue(`arn:aws:iam::${ACCOUNT}:role/provision-role`, 'provision'),
      maxAttempts: 1,
    });
    const templateBody = JSON.stringify({ Resources: { Dashboard: { Type: 'AWS::CloudWatch::Dashboard', Properties: { DashboardBody: '{}' } } } });
    const error = (promise: Promise<unknown>) =>
      promise.then(
        () => undefined,
        (e: Error) => ({ name: e.name, message: e.message }),
      );

    expect(await error(client.send(new CreateStackCommand({ StackName: 'other', TemplateBody: templateBody })))).toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining(`is not authorized to perform: cloudformation:CreateStack on resource: arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/other/*`),
    });
    expect(
      await error(client.send(new CreateStackCommand({ StackName: 'model-a', TemplateBody: templateBody, RoleARN: `arn:aws:iam::${ACCOUNT}:role/provision-role` }))),
    ).toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining('iam:PassRole'),
    });
    expect(await error(client.send(new CreateStackCommand({ StackName: 'model-a', TemplateBody: templateBody, RoleARN: `arn:aws:iam::${ACCOUNT}:role/ec2-role` })))).toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining(`Role arn:aws:iam::${ACCOUNT}:role/ec2-role is invalid or cannot be assumed`),
    });
    // Passed a role it may pass: the stack's resources are then created as that role (which has no grants: the dashboard fails).
    await client.send(new CreateStackCommand({ StackName: 'model-a', TemplateBody: templateBody, RoleARN: `arn:aws:iam::${ACCOUNT}:role/cfn-role` }));
    const created = await stacks.cloudFormation.settle('model-a');
    expect(created.events.find((e) => e.ResourceStatus === 'CREATE_FAILED')?.ResourceStatusReason).toContain(
      'assumed-role/cfn-role/AWSCloudFormation is not authorized to perform: cloudwatch:PutDashboard',
    );
    await client.send(new DeleteStackCommand({ StackName: 'model-a' }));
    const stranger = new CloudFormationClient({
      endpoint: api.endpoint,
      region: REGION,
      credentials: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    expect(await error(stranger.send(new DeleteStackCommand({ StackName: 'model-a' })))).toMatchObject({ name: 'InvalidClientTokenId' });
  });
});

describe('services acting on functions', () => {
  it('EventBridge delivers to a function its permission names the rule for, or as a target role that trusts EventBridge for that rule', async () => {
    const stacks = await local();
    const rule = (name: string) => `arn:aws:events:${REGION}:${ACCOUNT}:rule/${name}`;
    const fn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:monitor`;
    const machine = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:pipeline`;
    await stacks.deploy('s', {
      Resources: {
        Fn: { Type: 'AWS::Lambda::Function', Metadata: { 'modelgate:entry': 'monitor.ts' }, Properties: { FunctionName: 'monitor' } },
        Permission: {
          Type: 'AWS::Lambda::Permission',
          Properties: { Action: 'lambda:InvokeFunction', FunctionName: { 'Fn::GetAtt': ['Fn', 'Arn'] }, Principal: 'events.amazonaws.com', SourceArn: rule('schedule') },
        },
        EventsRole: {
          Type: 'AWS::IAM::Role',
          Properties: {
            RoleName: 'events',
            AssumeRolePolicyDocument: trust('events.amazonaws.com', { ArnLike: { 'aws:SourceArn': rule('schedule') } }),
            Policies: [{ PolicyName: 'start', PolicyDocument: statements({ Effect: 'Allow', Action: 'states:StartExecution', Resource: machine }) }],
          },
        },
      },
    });
    const target = (arn: string, roleArn?: string) => ({ id: 'Target0', arn, ...(roleArn ? { roleArn } : {}) });
    const ruleNamed = (name: string) => ({ logicalId: name, enabled: true, targets: [] });
    await stacks.iam.authorizeRuleTarget(ruleNamed('schedule'), target(fn));
    await expect(stacks.iam.authorizeRuleTarget(ruleNamed('other'), target(fn))).rejects.toThrow(/events\.amazonaws\.com is not authorized to perform: lambda:InvokeFunction/);
    await stacks.iam.authorizeRuleTarget(ruleNamed('schedule'), target(machine, `arn:aws:iam::${ACCOUNT}:role/events`));
    await expect(stacks.iam.authorizeRuleTarget(ruleNamed('other'), target(machine, `arn:aws:iam::${ACCOUNT}:role/events`))).rejects.toThrow(
      /events\.amazonaws\.com is not authorized to perform: sts:AssumeRole/,
    );
  });

  it("API Gateway may invoke an alias only where the alias's own permission's SourceArn matches the method and path", async () => {
    const stacks = await local();
    await stacks.deploy('s', {
      Resources: {
        Fn: { Type: 'AWS::Lambda::Function', Metadata: { 'modelgate:entry': 'predict.ts' }, Properties: { FunctionName: 'predict' } },
        Alias: { Type: 'AWS::Lambda::Alias', Properties: { FunctionName: { Ref: 'Fn' }, FunctionVersion: '$LATEST', Name: 'live' } },
        Permission: {
          Type: 'AWS::Lambda::Permission',
          Properties: {
            Action: 'lambda:InvokeFunction',
            FunctionName: { Ref: 'Alias' },
            Principal: 'apigateway.amazonaws.com',
            SourceArn: `arn:aws:execute-api:${REGION}:${ACCOUNT}:api123/*/POST/v1/models/churn/predict`,
          },
        },
      },
    });
    const method = (path: string) => `arn:aws:execute-api:${REGION}:${ACCOUNT}:api123/dev/POST${path}`;
    expect(await stacks.iam.apiGatewayMayInvoke('predict', 'live', method('/v1/models/churn/predict'))).toBe(true);
    expect(await stacks.iam.apiGatewayMayInvoke('predict', 'live', method('/v1/feedback'))).toBe(false);
    // The alias's permission is not the function's: $LATEST has none.
    expect(await stacks.iam.apiGatewayMayInvoke('predict', undefined, method('/v1/models/churn/predict'))).toBe(false);
  });
});

describe('requests -> IAM actions', () => {
  const headers = {};
  const q = (text = '') => new URLSearchParams(text);

  it('S3: object and bucket operations, copies, versions, DeleteObjects', () => {
    expect(s3Checks('GET', 'b', 'models/m/1/model.onnx', q(), headers)).toEqual([{ action: 's3:GetObject', resource: 'arn:aws:s3:::b/models/m/1/model.onnx' }]);
    expect(s3Checks('HEAD', 'b', 'k', q('versionId=3'), headers)).toEqual([{ action: 's3:GetObjectVersion', resource: 'arn:aws:s3:::b/k' }]);
    expect(s3Checks('GET', 'b', undefined, q('list-type=2&prefix=models/'), headers)).toEqual([
      { action: 's3:ListBucket', resource: 'arn:aws:s3:::b', context: { 's3:prefix': 'models/' } },
    ]);
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
    iam.model.addStack('s', {
      Encrypted: {
        type: 'AWS::S3::Bucket',
        ref: 'enc',
        properties: {
          BucketEncryption: { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: key } }] },
        },
      },
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
    expect(dynamoDbChecks('Query', { TableName: 'log', IndexName: 'byModelVersion' }, REGION, ACCOUNT)).toEqual([
      { action: 'dynamodb:Query', resource: `${table('log')}/index/byModelVersion` },
    ]);
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
