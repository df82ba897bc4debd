// The local CloudFormation through @aws-sdk/client-cloudformation, against the running local runtime: a
// model-stack-like template (function, version, alias, API resources under the base stack's /v1/models from a
// parameter, a permission, a Condition) created, described, updated, rolled back, deleted and kept across a
// restart; its routes go live through API Gateway's CreateDeployment.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APIGatewayClient, CreateDeploymentCommand, GetApiKeyCommand, GetRestApisCommand, GetUsagePlanKeysCommand, GetUsagePlansCommand } from '@aws-sdk/client-api-gateway';
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  GetTemplateCommand,
  ListStacksCommand,
  UpdateStackCommand,
  type Parameter,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, localS3Client } from '../../local/aws-clients';
import { startRuntime, type Runtime } from '../../local/runtime';

const stateDir = mkdtempSync(join(tmpdir(), 'modelgate-cfn-'));
let runtime: Runtime;
let cloudFormation: CloudFormationClient;
let apiGateway: APIGatewayClient;
let base: { restApiId: string; v1Models: string };

/** A model stack in miniature: what the pipeline's provision step creates per model. */
const template = {
  Parameters: {
    ModelName: { Type: 'String', AllowedPattern: '[a-z][a-z0-9-]*' },
    RestApiId: { Type: 'String' },
    V1ModelsResourceId: { Type: 'String' },
    StageName: { Type: 'String', Default: 'dev' },
    Serving: { Type: 'String', AllowedValues: ['true', 'false'], Default: 'true' },
    MemorySize: { Type: 'Number', Default: 256, MinValue: 128 },
    Greeting: { Type: 'String', Default: 'hello' },
  },
  Conditions: { IsServing: { 'Fn::Equals': [{ Ref: 'Serving' }, 'true'] } },
  Resources: {
    Role: {
      Type: 'AWS::IAM::Role',
      Properties: { AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] } },
    },
    Function: {
      Type: 'AWS::Lambda::Function',
      Metadata: { 'modelgate:entry': 'test/fixtures/handlers/echo.ts' },
      Properties: {
        FunctionName: { 'Fn::Sub': 'test-model-${ModelName}' },
        Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
        MemorySize: { Ref: 'MemorySize' },
        Timeout: 10,
        Environment: { Variables: { MODEL_NAME: { Ref: 'ModelName' }, GREETING: { Ref: 'Greeting' }, UNUSED: { Ref: 'AWS::NoValue' } } },
      },
    },
    Version: { Type: 'AWS::Lambda::Version', DeletionPolicy: 'Retain', Properties: { FunctionName: { Ref: 'Function' } } },
    Alias: { Type: 'AWS::Lambda::Alias', Properties: { FunctionName: { Ref: 'Function' }, FunctionVersion: { 'Fn::GetAtt': ['Version', 'Version'] }, Name: 'live' } },
    ModelResource: { Type: 'AWS::ApiGateway::Resource', Properties: { RestApiId: { Ref: 'RestApiId' }, ParentId: { Ref: 'V1ModelsResourceId' }, PathPart: { Ref: 'ModelName' } } },
    PredictResource: { Type: 'AWS::ApiGateway::Resource', Properties: { RestApiId: { Ref: 'RestApiId' }, ParentId: { Ref: 'ModelResource' }, PathPart: 'predict' } },
    PredictMethod: {
      Type: 'AWS::ApiGateway::Method',
      Condition: 'IsServing',
      Properties: {
        RestApiId: { Ref: 'RestApiId' },
        ResourceId: { Ref: 'PredictResource' },
        HttpMethod: 'POST',
        AuthorizationType: 'NONE',
        Integration: {
          Type: 'AWS_PROXY',
          IntegrationHttpMethod: 'POST',
          Uri: { 'Fn::Sub': 'arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Alias}/invocations' },
        },
      },
    },
    Permission: {
      Type: 'AWS::Lambda::Permission',
      Condition: 'IsServing',
      Properties: {
        FunctionName: { Ref: 'Alias' },
        Action: 'lambda:InvokeFunction',
        Principal: 'apigateway.amazonaws.com',
        SourceArn: { 'Fn::Sub': 'arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${RestApiId}/${StageName}/POST/v1/models/${ModelName}/predict' },
      },
    },
    Dashboard: { Type: 'AWS::CloudWatch::Dashboard', DependsOn: 'Alias', Properties: { DashboardName: { 'Fn::Sub': '${ModelName}-dashboard' }, DashboardBody: '{"widgets":[]}' } },
  },
  Outputs: {
    AliasArn: { Value: { Ref: 'Alias' } },
    Route: { Condition: 'IsServing', Value: { 'Fn::Join': ['', ['POST /v1/models/', { Ref: 'ModelName' }, '/predict']] } },
  },
};

const parameters = (model: string, extra: Record<string, string> = {}): Parameter[] =>
  Object.entries({ ModelName: model, RestApiId: base.restApiId, V1ModelsResourceId: base.v1Models, ...extra }).map(([ParameterKey, ParameterValue]) => ({
    ParameterKey,
    ParameterValue,
  }));

async function settled(stackName: string): Promise<Stack> {
  for (;;) {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = Stacks?.[0] as Stack;
    if (!stack.StackStatus?.endsWith('_IN_PROGRESS')) return stack;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const predict = (model: string) =>
  fetch(`${runtime.apiUrl}/v1/models/${model}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"instances":[]}' });
const deploy = () => apiGateway.send(new CreateDeploymentCommand({ restApiId: base.restApiId, stageName: 'dev', description: 'model routes' }));

async function start(): Promise<void> {
  runtime = await startRuntime({ stateDir, port: 0, echoLogs: false, print: () => undefined });
  cloudFormation = new CloudFormationClient({ endpoint: runtime.cloudFormationEndpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  apiGateway = new APIGatewayClient({ endpoint: runtime.apiGatewayEndpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  const resources = runtime.cloudFormation.resources('AWS::ApiGateway::Resource').filter((r) => r.stackName === runtime.stack.stackName);
  const v1 = resources.find((r) => r.properties.PathPart === 'v1' && !resources.some((p) => p.physicalId === r.properties.ParentId));
  const v1Models = resources.find((r) => r.properties.PathPart === 'models' && r.properties.ParentId === v1?.physicalId);
  base = { restApiId: String(v1Models?.properties.RestApiId), v1Models: String(v1Models?.physicalId) };
}

beforeAll(async () => {
  rmSync(stateDir, { recursive: true, force: true });
  await start();
}, 10 * 60_000);

afterAll(async () => {
  await runtime?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('local CloudFormation', () => {
  it('creates a stack in dependency order; its route answers 404 until a deployment of the stage includes it', async () => {
    const stackId = (
      await cloudFormation.send(
        new CreateStackCommand({
          StackName: 'test-model-fraud',
          TemplateBody: JSON.stringify(template),
          Parameters: parameters('fraud'),
          Capabilities: ['CAPABILITY_IAM'],
          Tags: [{ Key: 'model', Value: 'fraud' }],
        }),
      )
    ).StackId;
    expect(stackId).toMatch(/^arn:aws:cloudformation:us-east-1:000000000000:stack\/test-model-fraud\//);
    const stack = await settled('test-model-fraud');
    expect(stack).toMatchObject({ StackStatus: 'CREATE_COMPLETE', Tags: [{ Key: 'model', Value: 'fraud' }] });
    expect(stack.Outputs).toEqual(
      expect.arrayContaining([
        { OutputKey: 'AliasArn', OutputValue: 'arn:aws:lambda:us-east-1:000000000000:function:test-model-fraud:live' },
        { OutputKey: 'Route', OutputValue: 'POST /v1/models/fraud/predict' },
      ]),
    );
    expect(stack.Parameters).toEqual(
      expect.arrayContaining([
        { ParameterKey: 'MemorySize', ParameterValue: '256' },
        { ParameterKey: 'Serving', ParameterValue: 'true' },
      ]),
    );
    const { StackEvents = [] } = await cloudFormation.send(new DescribeStackEventsCommand({ StackName: 'test-model-fraud' }));
    const created = StackEvents.filter((e) => e.ResourceStatus === 'CREATE_COMPLETE')
      .map((e) => e.LogicalResourceId)
      .reverse();
    expect(created.indexOf('Alias')).toBeLessThan(created.indexOf('Dashboard'));
    expect(created.indexOf('Function')).toBeLessThan(created.indexOf('Version'));
    expect(created.at(-1)).toBe('test-model-fraud');
    expect(runtime.lambda.getFunction('test-model-fraud').aliases).toEqual([{ name: 'live', functionVersion: '1', additionalVersionWeights: {} }]);
    expect(runtime.cloudFormation.resources('AWS::IAM::Role').find((r) => r.stackName === 'test-model-fraud')?.properties.AssumeRolePolicyDocument).toBeDefined();

    expect((await predict('fraud')).status).toBe(404);
    await deploy();
    const answer = await predict('fraud');
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ model: 'fraud', greeting: 'hello', version: '1', resource: '/v1/models/fraud/predict' });
    expect(
      (
        await fetch(`${runtime.apiUrl}/v1/models/churn/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': runtime.apiKeys.predict },
          body: '{"instances":[]}',
        })
      ).status,
    ).toBe(400); // churn untouched
  });

  it('refuses what CloudFormation refuses: a second stack of the name, bad parameters, missing capabilities, a no-op update', async () => {
    const create = (name: string, extra: object) =>
      cloudFormation.send(new CreateStackCommand({ StackName: name, TemplateBody: JSON.stringify(template), Capabilities: ['CAPABILITY_IAM'], ...extra }));
    await expect(create('test-model-fraud', { Parameters: parameters('fraud') })).rejects.toMatchObject({
      name: 'AlreadyExistsException',
      message: 'Stack [test-model-fraud] already exists',
    });
    await expect(create('test-model-x', { Parameters: parameters('x', { Serving: 'maybe' }) })).rejects.toMatchObject({
      name: 'ValidationError',
      message: "Parameter 'Serving' must be one of AllowedValues",
    });
    await expect(create('test-model-x', { Parameters: parameters('x', { MemorySize: 'lots' }) })).rejects.toMatchObject({
      name: 'ValidationError',
      message: "Parameter 'MemorySize' must be a number",
    });
    await expect(create('test-model-x', { Parameters: parameters('x').filter((p) => p.ParameterKey !== 'RestApiId') })).rejects.toMatchObject({
      message: 'Parameters: [RestApiId] must have values',
    });
    await expect(
      cloudFormation.send(new CreateStackCommand({ StackName: 'test-model-x', TemplateBody: JSON.stringify(template), Parameters: parameters('x') })),
    ).rejects.toMatchObject({ name: 'InsufficientCapabilitiesException' });
    await expect(
      cloudFormation.send(new UpdateStackCommand({ StackName: 'test-model-fraud', UsePreviousTemplate: true, Parameters: parameters('fraud'), Capabilities: ['CAPABILITY_IAM'] })),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'No updates are to be performed.',
    });
    await expect(cloudFormation.send(new DescribeStacksCommand({ StackName: 'no-such-stack' }))).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'Stack with id no-such-stack does not exist',
    });
  });

  it('updates in place: a new environment and memory for $LATEST, published versions and aliases kept', async () => {
    runtime.lambda.putAlias('test-model-fraud', {
      name: 'live',
      functionVersion: runtime.lambda.publishVersion('test-model-fraud', 'published by the pipeline').version,
      additionalVersionWeights: {},
    });
    await cloudFormation.send(
      new UpdateStackCommand({
        StackName: 'test-model-fraud',
        UsePreviousTemplate: true,
        Parameters: parameters('fraud', { Greeting: 'bonjour', MemorySize: '512' }),
        Capabilities: ['CAPABILITY_IAM'],
      }),
    );
    expect((await settled('test-model-fraud')).StackStatus).toBe('UPDATE_COMPLETE');
    const fn = runtime.lambda.getFunction('test-model-fraud');
    expect(fn.environment.GREETING).toBe('bonjour');
    expect(fn.definition.memoryMb).toBe(512);
    expect(fn.versions.map((v) => v.version)).toEqual(['1', '2']);
    expect(fn.aliases).toEqual([{ name: 'live', functionVersion: '2', additionalVersionWeights: {} }]);
    expect((await runtime.lambda.invoke('test-model-fraud', '$LATEST', {})).result).toMatchObject({ statusCode: 200 });
    expect(JSON.parse(((await runtime.lambda.invoke('test-model-fraud', undefined, {})).result as { body: string }).body)).toMatchObject({ greeting: 'bonjour', memory: '512' });
  });

  it('rolls an update back when a resource fails, naming it and the reason', async () => {
    const broken = { ...template, Resources: { ...template.Resources, Queue: { Type: 'AWS::Kinesis::Stream', Properties: {} } } };
    await cloudFormation.send(
      new UpdateStackCommand({
        StackName: 'test-model-fraud',
        TemplateBody: JSON.stringify(broken),
        Parameters: parameters('fraud', { Greeting: 'hola' }),
        Capabilities: ['CAPABILITY_IAM'],
      }),
    );
    const stack = await settled('test-model-fraud');
    expect(stack.StackStatus).toBe('UPDATE_ROLLBACK_COMPLETE');
    const { StackEvents = [] } = await cloudFormation.send(new DescribeStackEventsCommand({ StackName: 'test-model-fraud' }));
    expect(StackEvents.find((e) => e.ResourceStatus === 'UPDATE_FAILED' || e.ResourceStatus === 'CREATE_FAILED')).toMatchObject({
      LogicalResourceId: 'Queue',
      ResourceStatusReason: expect.stringContaining('AWS::Kinesis::Stream'),
    });
    expect(runtime.lambda.getFunction('test-model-fraud').environment.GREETING).toBe('bonjour');
    const { TemplateBody } = await cloudFormation.send(new GetTemplateCommand({ StackName: 'test-model-fraud' }));
    expect(JSON.parse(TemplateBody as string).Resources.Queue).toBeUndefined();
  });

  it('ends a failed creation ROLLBACK_COMPLETE with the failed resource, leaving nothing behind', async () => {
    const failing = { ...template, Resources: { ...template.Resources, Stream: { Type: 'AWS::Kinesis::Stream', DependsOn: 'Alias', Properties: {} } } };
    await cloudFormation.send(
      new CreateStackCommand({ StackName: 'test-model-broken', TemplateBody: JSON.stringify(failing), Parameters: parameters('broken'), Capabilities: ['CAPABILITY_IAM'] }),
    );
    const stack = await settled('test-model-broken');
    expect(stack).toMatchObject({ StackStatus: 'ROLLBACK_COMPLETE', StackStatusReason: 'The following resource(s) failed to create: [Stream]. Rollback requested by user.' });
    const { StackEvents = [] } = await cloudFormation.send(new DescribeStackEventsCommand({ StackName: 'test-model-broken' }));
    expect(StackEvents.find((e) => e.ResourceStatus === 'CREATE_FAILED')?.ResourceStatusReason).toMatch(
      /Resource type AWS::Kinesis::Stream \(Stream\) is not emulated by the local runtime/,
    );
    expect(() => runtime.lambda.getFunction('test-model-broken')).toThrow(/Function not found/);
    await cloudFormation.send(new DeleteStackCommand({ StackName: 'test-model-broken' }));
    expect((await settled(stack.StackId as string)).StackStatus).toBe('DELETE_COMPLETE');
    expect((await cloudFormation.send(new ListStacksCommand({ StackStatusFilter: ['DELETE_COMPLETE'] }))).StackSummaries?.map((s) => s.StackName)).toContain('test-model-broken');
  });

  it('updates a bucket deployment as CDK does: changed objects are written again, unchanged ones left alone', async () => {
    // A BucketDeployment of Source.jsonData and an asset file, as the deployment publishes its template and declarations.
    const asset = 'asset.test-publication';
    mkdirSync(join(runtime.stack.assemblyDir, asset), { recursive: true });
    writeFileSync(join(runtime.stack.assemblyDir, asset, 'declarations.json'), '{"allowUndeclaredModels":<<marker:0xbaba:0>>}');
    writeFileSync(join(runtime.stack.assemblyDir, asset, 'readme.txt'), 'unchanged');
    const bucket = runtime.outputs.ModelBucketName as string;
    const publication = (allow: boolean) => ({
      Resources: {
        Publication: {
          Type: 'Custom::CDKBucketDeployment',
          Properties: {
            ServiceToken: 'arn:aws:lambda:us-east-1:000000000000:function:test-bucket-deployment-provider',
            SourceBucketNames: ['assets'],
            SourceObjectKeys: ['test-publication.zip'],
            SourceMarkers: [{ '<<marker:0xbaba:0>>': String(allow) }],
            DestinationBucketName: bucket,
            DestinationBucketKeyPrefix: 'test-publication',
            Prune: false,
          },
        },
      },
    });
    const s3 = localS3Client(runtime.s3Endpoint);
    const read = async (key: string) => (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `test-publication/${key}` }))).Body?.transformToString();
    const modified = async (key: string) => (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `test-publication/${key}` }))).LastModified?.getTime();

    await cloudFormation.send(new CreateStackCommand({ StackName: 'test-publication', TemplateBody: JSON.stringify(publication(false)) }));
    expect((await settled('test-publication')).StackStatus).toBe('CREATE_COMPLETE');
    expect(await read('declarations.json')).toBe('{"allowUndeclaredModels":false}');
    const untouched = await modified('readme.txt');

    await new Promise((resolve) => setTimeout(resolve, 1100)); // S3 times are in whole seconds
    await cloudFormation.send(new UpdateStackCommand({ StackName: 'test-publication', TemplateBody: JSON.stringify(publication(true)) }));
    expect((await settled('test-publication')).StackStatus).toBe('UPDATE_COMPLETE');
    expect(await read('declarations.json')).toBe('{"allowUndeclaredModels":true}');
    expect(await read('readme.txt')).toBe('unchanged');
    expect(await modified('readme.txt')).toBe(untouched);
  });

  it('serves the API Gateway calls of the pipeline and the key authorizer: REST APIs, usage plans and their keys, API keys', async () => {
    const { items = [] } = await apiGateway.send(new GetRestApisCommand({}));
    expect(items.map((a) => a.id)).toContain(base.restApiId);
    const { items: plans = [] } = await apiGateway.send(new GetUsagePlansCommand({}));
    expect(plans.map((p) => p.name).sort()).toEqual(['events', 'feedback', 'predict'].map((client) => `${runtime.stack.stackName}-${client}`));
    const predictPlan = plans.find((p) => p.name === `${runtime.stack.stackName}-predict`);
    const { items: keys = [] } = await apiGateway.send(new GetUsagePlanKeysCommand({ usagePlanId: predictPlan?.id as string }));
    expect(keys.map((k) => [k.id, k.value])).toEqual([[runtime.outputs.PredictApiKeyId, runtime.apiKeys.predict]]);
    const key = await apiGateway.send(new GetApiKeyCommand({ apiKey: keys[0]?.id as string, includeValue: true }));
    expect(key).toMatchObject({ id: runtime.outputs.PredictApiKeyId, enabled: true, value: runtime.apiKeys.predict });
    expect(key.value).toMatch(/^[a-z0-9]{40}$/);
  });

  it(
    'keeps every stack, function, alias and route across a restart',
    async () => {
      await runtime.close();
      await start();
      expect((await settled('test-model-fraud')).StackStatus).toBe('UPDATE_ROLLBACK_COMPLETE');
      expect(runtime.lambda.getFunction('test-model-fraud').aliases).toEqual([{ name: 'live', functionVersion: '2', additionalVersionWeights: {} }]);
      expect(await (await predict('fraud')).json()).toMatchObject({ model: 'fraud', greeting: 'hello', version: '2' });
    },
    10 * 60_000,
  );

  it('retires a route by condition and a deployment, then deletes the stack keeping what Retain keeps', async () => {
    await cloudFormation.send(
      new UpdateStackCommand({
        StackName: 'test-model-fraud',
        UsePreviousTemplate: true,
        Parameters: parameters('fraud', { Greeting: 'bonjour', MemorySize: '512', Serving: 'false' }),
        Capabilities: ['CAPABILITY_IAM'],
      }),
    );
    const stack = await settled('test-model-fraud');
    expect(stack.StackStatus).toBe('UPDATE_COMPLETE');
    expect(stack.Outputs?.map((o) => o.OutputKey)).toEqual(['AliasArn']);
    await deploy();
    expect((await predict('fraud')).status).toBe(404);
    await cloudFormation.send(new DeleteStackCommand({ StackName: 'test-model-fraud' }));
    await expect(settled('test-model-fraud')).rejects.toMatchObject({ name: 'ValidationError' });
    const { StackEvents = [] } = await cloudFormation.send(new DescribeStackEventsCommand({ StackName: stack.StackId as string }));
    expect(StackEvents[0]).toMatchObject({ LogicalResourceId: 'test-model-fraud', ResourceStatus: 'DELETE_COMPLETE' });
    expect(StackEvents.find((e) => e.LogicalResourceId === 'Version')?.ResourceStatus).toBe('DELETE_SKIPPED');
    const deleted = StackEvents.filter((e) => e.ResourceStatus === 'DELETE_COMPLETE')
      .map((e) => e.LogicalResourceId)
      .reverse();
    expect(deleted.indexOf('Dashboard')).toBeLessThan(deleted.indexOf('Alias'));
    expect(() => runtime.lambda.getFunction('test-model-fraud')).toThrow(/Function not found/);
  });
});
