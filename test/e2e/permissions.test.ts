// Permissions in the local runtime, end to end: the synthesized template's roles, key policies, topic policy and
// function permissions, enforced on every call (local/iam). On-call must be paged: the pipeline's notifications
// and the alarms' actions reach the encrypted topic. Each interception point refuses what AWS would refuse, with
// the service's own error: the S3 and DynamoDB gateways, the KMS key behind the bucket, the Lambda API.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand, PutItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalCredentials } from '../../local/iam/identities';
import { main } from '../../cli/main';
import { modelStackName } from '../../lambdas/core/naming';
import { startRuntime, type Runtime } from '../../local/runtime';

let runtime: Runtime;
let stateDir: string;
const printed: string[] = [];

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'modelgate-permissions-'));
  // The first start runs the pipeline once (churn v1 from the bucket deployment), notifications included.
  runtime = await startRuntime({ stateDir, clean: true, port: 0, echoLogs: false, timeScale: 600, alarmTickMs: 3_600_000, print: (line) => void printed.push(line) });
});

afterAll(async () => {
  await runtime?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

const REGION = 'us-east-1';
const s3As = (credentials: LocalCredentials) => new S3Client({ endpoint: runtime.s3Endpoint, region: REGION, forcePathStyle: true, credentials, maxAttempts: 1 });
const dynamoAs = (credentials: LocalCredentials) => new DynamoDBClient({ endpoint: runtime.dynamoDbEndpoint, region: REGION, credentials, maxAttempts: 1 });
const lambdaAs = (credentials: LocalCredentials) => new LambdaClient({ endpoint: runtime.lambdaEndpoint, region: REGION, credentials, maxAttempts: 1 });
const functionName = (suffix: string) => `${runtime.stack.stackName}-${suffix}`;
const bucket = () => runtime.outputs.ModelBucketName as string;
const topicArn = () => runtime.outputs.NotificationTopicArn as string;

async function failure(promise: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, ...(e.$metadata?.httpStatusCode !== undefined ? { status: e.$metadata.httpStatusCode } : {}) };
  }
  throw new Error('expected the call to be refused');
}

describe("the template's own calls", () => {
  it('are all allowed: the first start (a whole pipeline execution) and the scheduled rules deny nothing', async () => {
    // rate(1 hour) runs every 6 s at this time scale: both schedules have fired once their functions have logged.
    await vi.waitFor(() => expect(['monitor', 'experiment-analysis'].every((fn) => existsSync(join(stateDir, 'logs', `${functionName(fn)}.log`)))).toBe(true), {
      timeout: 30_000,
      interval: 250,
    });
    await runtime.pipeline.settle();
    expect(printed.filter((line) => line.startsWith('local IAM') || line.includes('local EventBridge'))).toEqual([]);
  });
});

// Failed before the topic key's policy let CloudWatch in and the state machine role got the key grants (the key
// policy trusted only the account root; the role had sns:Publish alone; the topic policy had no Allow).
describe('on-call is paged', () => {
  it('a pipeline notification reaches the encrypted topic: the state machine may use its key', async () => {
    const [bootstrap] = runtime.pipeline.stepFunctions.list();
    expect(bootstrap?.cause ?? '').not.toMatch(/KMS|not authorized/);
    expect(bootstrap?.status).toBe('SUCCEEDED');
    expect(runtime.sns.recentNotifications().some((n) => n.TopicArn === topicArn() && /churn/.test(n.Subject ?? ''))).toBe(true);
  });

  it("an alarm's action reaches the encrypted topic: CloudWatch may publish and use the key", async () => {
    const alarm = runtime.alarms.describeAlarms().MetricAlarms.find((a) => a.AlarmActions.includes(topicArn()));
    expect(alarm).toBeDefined();
    runtime.alarms.setAlarmState(alarm?.AlarmName as string, 'ALARM', 'e2e: paging on-call');
    await runtime.alarms.settle();
    expect(printed.filter((line) => line.includes('Failed to execute action'))).toEqual([]);
    expect(runtime.sns.recentNotifications()[0]?.Subject).toBe(`ALARM: "${alarm?.AlarmName}" in US East (N. Virginia)`);
  });
});

describe('every call is checked against the template', () => {
  it('S3: the inference function reads its model, and is refused outside models/<its model>/ with AccessDenied', async () => {
    const s3 = s3As(runtime.iam.functionCredentials(functionName('model-churn')));
    const manifest = await s3.send(new GetObjectCommand({ Bucket: bucket(), Key: 'models/churn/1/manifest.json' }));
    expect(JSON.parse(await (manifest.Body?.transformToString() ?? '')).name).toBe('churn');

    const refused = await failure(s3.send(new GetObjectCommand({ Bucket: bucket(), Key: 'candidates/churn/1/manifest.json' })));
    expect(refused).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(refused.message).toContain(`assumed-role/`);
    expect(refused.message).toContain(
      `is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::${bucket()}/candidates/churn/1/manifest.json because no identity-based policy allows the s3:GetObject action`,
    );
    expect(printed.some((line) => line.startsWith('local IAM: denied:') && line.includes('s3:GetObject') && line.includes("no Allow in the role's policies"))).toBe(true);
    // Another model's objects are within the deployment's boundary, not within this model's role.
    const otherModel = await failure(s3.send(new GetObjectCommand({ Bucket: bucket(), Key: 'models/iris/1/manifest.json' })));
    expect(otherModel).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(otherModel.message).toContain(`s3:GetObject on resource: arn:aws:s3:::${bucket()}/models/iris/1/manifest.json`);
  });

  it('S3: a missing key the caller may not list is a 403, as S3 answers it without s3:ListBucket', async () => {
    const s3 = s3As(runtime.iam.functionCredentials(functionName('model-churn')));
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: bucket(), Key: 'models/churn/999/manifest.json' })))).toMatchObject({ status: 403 });
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: bucket(), Key: 'models/churn/999/manifest.json' })))).toMatchObject({ name: 'AccessDenied', status: 403 });
  });

  it('DynamoDB: the read-only models function may read the registry and may not write it (AccessDeniedException)', async () => {
    const dynamodb = dynamoAs(runtime.iam.functionCredentials(functionName('models')));
    const table = runtime.outputs.RegistryTableName as string;
    await dynamodb.send(new GetItemCommand({ TableName: table, Key: { model: { S: 'churn' }, item: { S: 'MODEL' } } }));
    const refused = await failure(dynamodb.send(new PutItemCommand({ TableName: table, Item: { model: { S: 'churn' }, item: { S: 'FORGED' } } })));
    expect(refused).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(refused.message).toContain(`is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:${REGION}:000000000000:table/${table}`);
  });

  it('KMS: s3:GetObject without kms:Decrypt on the bucket key is refused; the key policy leaves it to IAM', async () => {
    // A stack created at run time through the local CloudFormation (as a model stack is): a role that may read
    // objects but not use the key. IAM knows it from its creation and forgets it with its deletion.
    const probe = await runtime.cloudFormation.deploy({
      stackName: 'iam-probe',
      capabilities: ['CAPABILITY_IAM'],
      templateBody: JSON.stringify({
        Resources: {
          ProbeRole: {
            Type: 'AWS::IAM::Role',
            Properties: { AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] } },
          },
          ProbePolicy: {
            Type: 'AWS::IAM::Policy',
            Properties: {
              PolicyName: 'probe',
              Roles: [{ Ref: 'ProbeRole' }],
              PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket()}/models/*` }] },
            },
          },
        },
      }),
    });
    const roleArn = probe.resources.ProbeRole?.attributes.Arn as string;
    const s3 = s3As(runtime.iam.identities.issue(roleArn, 'probe'));
    const refused = await failure(s3.send(new GetObjectCommand({ Bucket: bucket(), Key: 'models/churn/1/manifest.json' })));
    expect(refused).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(refused.message).toMatch(
      /is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:us-east-1:000000000000:key\/[0-9a-f-]+ because no identity-based policy allows the kms:Decrypt action/,
    );
    expect(refused.message).toContain('trusts only the account root');

    runtime.cloudFormation.deleteStack('iam-probe');
    // A deleted stack is described by its id only.
    await runtime.cloudFormation.settle('iam-probe').catch(() => undefined);
    expect(runtime.cloudFormation.describeStack(probe.stackId).status).toBe('DELETE_COMPLETE');
    // Gone with its stack: the same credentials now belong to no role the runtime runs.
    const after = await failure(s3.send(new GetObjectCommand({ Bucket: bucket(), Key: 'models/churn/1/manifest.json' })));
    expect(after.message).toContain('is in no stack the runtime runs');
  });

  it('Lambda API: a function may not invoke a function it has no grant for (AccessDeniedException)', async () => {
    const lambda = lambdaAs(runtime.iam.functionCredentials(functionName('models')));
    const refused = await failure(lambda.send(new InvokeCommand({ FunctionName: functionName('model-churn'), Qualifier: 'live', Payload: Buffer.from('{}') })));
    expect(refused).toMatchObject({ name: 'AccessDeniedException', status: 403 });
    expect(refused.message).toContain(
      `is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:${REGION}:000000000000:function:${functionName('model-churn')}:live`,
    );
  });

  it('unknown credentials are refused by every gateway', async () => {
    const stranger = { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' };
    expect(await failure(s3As(stranger).send(new GetObjectCommand({ Bucket: bucket(), Key: 'models/churn/1/manifest.json' })))).toMatchObject({
      name: 'InvalidAccessKeyId',
      status: 403,
    });
    expect(
      await failure(dynamoAs(stranger).send(new GetItemCommand({ TableName: runtime.outputs.RegistryTableName as string, Key: { model: { S: 'x' }, item: { S: 'x' } } }))),
    ).toMatchObject({ name: 'UnrecognizedClientException' });
    expect(await failure(lambdaAs(stranger).send(new InvokeCommand({ FunctionName: functionName('models') })))).toMatchObject({ name: 'UnrecognizedClientException' });
  });
});

describe("a model's stack, created at run time by the pipeline", () => {
  const churnStack = () => runtime.cloudFormation.describeStack(modelStackName(runtime.stack.stackName, 'churn'));

  it("holds the inference function's role, created by CloudFormation as the deployment's service role, with the model boundary", () => {
    const stack = churnStack();
    const serviceRole = Object.values(runtime.cloudFormation.describeStack(runtime.stack.stackName).resources).find(
      (r) => r.type === 'AWS::IAM::Role' && r.logicalId.includes('CloudFormationRole'),
    );
    expect(stack).toMatchObject({ status: 'CREATE_COMPLETE', roleArn: serviceRole?.attributes.Arn });
    const role = Object.values(stack.resources).find((r) => r.type === 'AWS::IAM::Role');
    const roleArn = runtime.iam.model.functionRole(functionName('model-churn'));
    expect(roleArn).toBe(role?.attributes.Arn);
    const model = runtime.iam.model.role(roleArn as string);
    expect(model?.boundaryArn).toBe(role?.properties.PermissionsBoundary);
    expect(model?.boundary?.name).toMatch(new RegExp(`^${runtime.stack.stackName}/`));
    expect(runtime.iam.functionCaller(functionName('model-churn')).principal).toBe(`arn:aws:sts::000000000000:assumed-role/${role?.physicalId}/${functionName('model-churn')}`);
  });

  // Last: the model is gone afterwards. Every call of the retirement is checked: the provision function's
  // UpdateStack and DeleteStack with the service role (iam:PassRole), CloudFormation's handler calls as that
  // role (apigateway:DELETE of the routes, lambda:RemovePermission, DeleteAlias, DeleteFunction, iam:DeleteRolePolicy,
  // DeleteRole, cloudwatch:DeleteDashboards), the state machine's CreateDeployment and DeleteAlarms.
  it("is retired as AWS would let the pipeline retire it: nothing denied, the stack deleted, its function's role gone", async () => {
    const { stackId } = churnStack();
    const before = printed.length;
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
    const code = await main(['retire', 'churn', '--state-dir', stateDir]).finally(() => log.mockRestore());
    expect(code, lines.join('\n')).toBe(0);
    await runtime.pipeline.settle();
    expect(runtime.cloudFormation.describeStack(stackId).status).toBe('DELETE_COMPLETE');
    expect(printed.slice(before).filter((line) => line.startsWith('local IAM'))).toEqual([]);
    expect(runtime.iam.model.functionRole(functionName('model-churn'))).toBeUndefined();
  });
});
