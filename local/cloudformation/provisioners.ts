// The provisioner of each resource type the local CloudFormation handles: what creating, updating and
// deleting the resource does to the local emulation (Lambda, API Gateway, DynamoDB, S3, CloudWatch, SNS,
// EventBridge, Step Functions), and the types recorded as data only (RECORDED_TYPES, with why).
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, GetObjectCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DeleteTableCommand, ResourceNotFoundException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { alarmDefinition, type LocalAlarms } from '../alarms';
import type { AuthorizerDefinition, LocalApiGateway, MethodDefinition } from '../api-gateway';
import { createTableInput, ensureTable, type CfnTableProperties } from '../dynamodb-tables';
import { streamedTable, streamSubscription, type LocalDynamoDbStreams } from '../dynamodb-streams';
import { ruleDefinition, type LocalEventBridge } from '../eventbridge';
import type { FunctionDefinition, LocalLambdaService } from '../lambda-service';
import type { LocalSns, TopicSubscription } from '../sns';
import { stateMachine } from '../state-machine-definitions';
import type { LocalStepFunctions } from '../step-functions';
import { UnsupportedResourceError, type DesiredResource, type Provisioned, type Provisioner } from './provisioner';

export interface ProvisionerServices {
  readonly region: string;
  readonly accountId: string;
  /** Where `modelgate:entry` paths (the functions' TypeScript sources) are relative to. */
  readonly repoRoot: string;
  /** The synthesized assembly: the asset folders bucket deployments copy. */
  readonly assetDirectory: () => string;
  readonly lambda: LocalLambdaService;
  readonly gateway: LocalApiGateway;
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  readonly streams: LocalDynamoDbStreams;
  readonly sns: LocalSns;
  readonly alarms: LocalAlarms;
  readonly eventBridge: LocalEventBridge;
  readonly stepFunctions: LocalStepFunctions;
  /** CloudWatch dashboards: body by name. */
  readonly dashboards: Map<string, string>;
}

/**
 * Types recorded as data only: their resolved properties stay in the stack (IAM enforcement reads the
 * roles, policies and key policies from there), Ref and Fn::GetAtt resolve, and nothing runs.
 */
export const RECORDED_TYPES: Readonly<Record<string, { readonly why: string; readonly identity: (r: DesiredResource, s: ProvisionerServices) => Provisioned }>> = {
  'AWS::IAM::Role': {
    why: 'kept for IAM enforcement (local/iam): each function signs with credentials of its role, each call is checked against it',
    identity: (r, s) => ({
      physicalId: r.physicalName,
      attributes: {
        Arn: `arn:aws:iam::${s.accountId}:role${iamPath(r)}${r.physicalName}`,
        RoleId: `AROA${r.physicalName
          .toUpperCase()
          .replace(/[^A-Z0-9]/g, '')
          .slice(0, 17)}`,
      },
    }),
  },
  'AWS::IAM::Policy': { why: 'kept for IAM enforcement', identity: (r) => ({ physicalId: r.physicalName, attributes: { Id: r.physicalName } }) },
  'AWS::IAM::ManagedPolicy': {
    why: 'kept for IAM enforcement (attached policies, permissions boundaries)',
    identity: (r, s) => {
      const arn = `arn:aws:iam::${s.accountId}:policy${iamPath(r)}${r.physicalName}`;
      return { physicalId: arn, attributes: { PolicyArn: arn } };
    },
  },
  'AWS::KMS::Key': {
    why: 'kept for IAM enforcement (key policies); S3 and SNS do not encrypt locally',
    identity: (_, s) => {
      const id = randomUUID();
      return { physicalId: id, attributes: { KeyId: id, Arn: `arn:aws:kms:${s.region}:${s.accountId}:key/${id}` } };
    },
  },
  'AWS::KMS::Alias': { why: 'kept with its key', identity: (r) => ({ physicalId: String(r.properties.AliasName ?? r.physicalName) }) },
  'AWS::S3::BucketPolicy': { why: 'kept for IAM enforcement; s3rver checks no policy', identity: (r) => ({ physicalId: r.physicalName }) },
  'AWS::SNS::TopicPolicy': { why: 'kept for IAM enforcement', identity: (r) => ({ physicalId: r.physicalName, attributes: { Id: r.physicalName } }) },
  'AWS::SQS::Queue': {
    why: 'dead-letter queues of rules and mappings: nothing is sent to them locally (retries are not run)',
    identity: (r, s) => ({
      physicalId: `https://sqs.${s.region}.amazonaws.com/${s.accountId}/${r.physicalName}`,
      attributes: {
        Arn: `arn:aws:sqs:${s.region}:${s.accountId}:${r.physicalName}`,
        QueueName: r.physicalName,
        QueueUrl: `https://sqs.${s.region}.amazonaws.com/${s.accountId}/${r.physicalName}`,
      },
    }),
  },
  'AWS::SQS::QueuePolicy': { why: 'kept with its queue', identity: (r) => ({ physicalId: r.physicalName, attributes: { Id: r.physicalName } }) },
  'AWS::Logs::LogGroup': {
    why: 'function output goes to <stateDir>/logs whatever the log group says; retention is not applied',
    identity: (r, s) => ({ physicalId: r.physicalName, attributes: { Arn: `arn:aws:logs:${s.region}:${s.accountId}:log-group:${r.physicalName}:*` } }),
  },
  'AWS::Lambda::LayerVersion': {
    why: 'the AWS CLI layer of CDK bucket deployments, which the runtime performs itself',
    identity: (r, s) => ({ physicalId: `arn:aws:lambda:${s.region}:${s.accountId}:layer:${r.physicalName}:1` }),
  },
  'AWS::ApiGateway::Account': { why: 'the account-wide CloudWatch role of API Gateway: no access logs locally', identity: (r) => ({ physicalId: r.physicalName }) },
  'AWS::CDK::Metadata': { why: 'CDK usage reporting', identity: (r) => ({ physicalId: r.physicalName }) },
  'AWS::XRay::Group': { why: 'no tracing locally', identity: (r) => ({ physicalId: r.physicalName }) },
  'AWS::XRay::SamplingRule': { why: 'no tracing locally', identity: (r) => ({ physicalId: r.physicalName }) },
};

/** An IAM resource's Path ("/" unless the template sets one): part of its ARN. */
function iamPath(r: DesiredResource): string {
  return typeof r.properties.Path === 'string' ? r.properties.Path : '/';
}

const recorded = (type: string, services: ProvisionerServices): Provisioner => {
  const { identity } = RECORDED_TYPES[type] as (typeof RECORDED_TYPES)[string];
  return { create: (r) => identity(r, services), update: (previous) => previous, delete: () => undefined };
};

export function provisioners(services: ProvisionerServices): Map<string, Provisioner> {
  const { lambda, gateway, region, accountId } = services;
  const functionArn = (name: string, qualifier?: string) => lambda.functionArn(name, qualifier);
  const map = new Map<string, Provisioner>(Object.keys(RECORDED_TYPES).map((type) => [type, recorded(type, services)]));

  const definition = (r: DesiredResource): FunctionDefinition => {
    const p = r.properties as { Environment?: { Variables?: Record<string, unknown> }; Timeout?: number; MemorySize?: number };
    return {
      logicalId: r.logicalId,
      name: r.physicalName,
      entry: join(services.repoRoot, String(r.metadata['modelgate:entry'])),
      handlerExport: String(r.metadata['modelgate:handler'] ?? 'handler'),
      environment: Object.fromEntries(Object.entries(p.Environment?.Variables ?? {}).map(([k, v]) => [k, String(v)])),
      timeoutSeconds: Number(p.Timeout ?? 3),
      memoryMb: Number(p.MemorySize ?? 128),
    };
  };
  // Functions without `modelgate:entry` are CDK's own providers (bucket deployments, notifications), whose
  // work the runtime does itself: they are recorded, not run.
  const runnable = (r: DesiredResource) => r.metadata['modelgate:entry'] !== undefined;
  const functionIdentity = (name: string): Provisioned => ({ physicalId: name, attributes: { Arn: functionArn(name) } });
  map.set('AWS::Lambda::Function', {
    replaceOn: ['FunctionName'],
    create(r) {
      if (runnable(r)) lambda.createFunction(definition(r));
      return functionIdentity(r.physicalName);
    },
    update(previous, r) {
      if (runnable(r)) lambda.updateFunction(definition(r));
      return functionIdentity(previous.physicalId);
    },
    delete(record) {
      if (runnable(record)) lambda.deleteFunction(record.physicalId);
    },
    restore(record) {
      if (runnable(record)) lambda.restoreFunction(definition(record));
    },
  });

  map.set('AWS::Lambda::Version', {
    create(r) {
      const name = functionName(String(r.properties.FunctionName));
      const version = lambda.publishVersion(name, String(r.properties.Description ?? ''));
      return { physicalId: functionArn(name, version.version), attributes: { Version: version.version, FunctionArn: functionArn(name) } };
    },
    delete(record) {
      lambda.deleteVersion(functionName(String(record.properties.FunctionName)), String(record.attributes.Version));
    },
  });

  const putAlias = (r: DesiredResource) => {
    const p = r.properties as {
      FunctionName: string;
      FunctionVersion: string;
      Name: string;
      RoutingConfig?: { AdditionalVersionWeights?: { FunctionVersion: string; FunctionWeight: number }[] };
    };
    const name = functionName(p.FunctionName);
    lambda.putAlias(name, {
      name: p.Name,
      functionVersion: String(p.FunctionVersion),
      additionalVersionWeights: Object.fromEntries((p.RoutingConfig?.AdditionalVersionWeights ?? []).map((w) => [String(w.FunctionVersion), Number(w.FunctionWeight)])),
    });
    return { physicalId: functionArn(name, p.Name), attributes: { AliasArn: functionArn(name, p.Name) } };
  };
  map.set('AWS::Lambda::Alias', {
    replaceOn: ['FunctionName', 'Name'],
    create: putAlias,
    update: (_, r) => putAlias(r),
    delete(record) {
      lambda.deleteAlias(functionName(String(record.properties.FunctionName)), String(record.properties.Name));
    },
  });

  const addPermission = (r: DesiredResource, sid: string) => {
    const p = r.properties as { FunctionName: string; Action: string; Principal: string; SourceArn?: string; SourceAccount?: string };
    lambda.addPermission(functionName(p.FunctionName), qualifierOf(p.FunctionName), {
      sid,
      action: p.Action,
      principal: p.Principal,
      ...(p.SourceArn !== undefined ? { sourceArn: p.SourceArn } : {}),
      ...(p.SourceAccount !== undefined ? { sourceAccount: p.SourceAccount } : {}),
    });
  };
  map.set('AWS::Lambda::Permission', {
    create(r) {
      const sid = `${r.stackName}-${r.logicalId}-${randomUUID().slice(0, 8)}`;
      addPermission(r, sid);
      return { physicalId: sid, attributes: { Id: sid } };
    },
    delete(record) {
      const p = record.properties as { FunctionName: string };
      lambda.removePermission(functionName(p.FunctionName), qualifierOf(p.FunctionName), record.physicalId);
    },
    restore(record) {
      addPermission(record, record.physicalId);
    },
  });

  const subscriptions = new Map<string, () => void>();
  const subscribe = (r: DesiredResource, id: string) => {
    const source = String(r.properties.EventSourceArn ?? '');
    if (!source.includes(':dynamodb:')) throw new UnsupportedResourceError(`event source ${source || '(none)'}: only DynamoDB streams are emulated locally`);
    subscriptions.set(id, services.streams.subscribe(streamSubscription(r.properties), lambda));
  };
  map.set('AWS::Lambda::EventSourceMapping', {
    create(r) {
      const id = randomUUID();
      subscribe(r, id);
      return { physicalId: id, attributes: { Id: id, EventSourceMappingArn: `arn:aws:lambda:${region}:${accountId}:event-source-mapping:${id}` } };
    },
    delete(record) {
      subscriptions.get(record.physicalId)?.();
      subscriptions.delete(record.physicalId);
    },
    restore(record) {
      subscribe(record, record.physicalId);
    },
  });

  const tableIdentity = (name: string): Provisioned => ({
    physicalId: name,
    attributes: { Arn: `arn:aws:dynamodb:${region}:${accountId}:table/${name}`, StreamArn: `arn:aws:dynamodb:${region}:${accountId}:table/${name}/stream/local` },
  });
  const streamOf = (r: DesiredResource) => {
    const stream = streamedTable(r.physicalName, String(tableIdentity(r.physicalName).attributes?.StreamArn), r.properties);
    if (stream) services.streams.addTable(stream);
    else services.streams.removeTable(r.physicalName);
  };
  map.set('AWS::DynamoDB::Table', {
    replaceOn: ['TableName', 'KeySchema'],
    async create(r) {
      // A table kept by DeletionPolicy Retain (or an earlier runtime) is taken over with its items.
      await ensureTable(services.dynamodb, createTableInput(r.physicalName, r.properties as unknown as CfnTableProperties));
      streamOf(r);
      return tableIdentity(r.physicalName);
    },
    async update(previous, r) {
      // An index added to (or dropped from) the template, as CloudFormation's UpdateTable would.
      await ensureTable(services.dynamodb, createTableInput(previous.physicalId, r.properties as unknown as CfnTableProperties));
      streamOf(r);
      return tableIdentity(previous.physicalId);
    },
    async delete(record) {
      services.streams.removeTable(record.physicalId);
      try {
        await services.dynamodb.send(new DeleteTableCommand({ TableName: record.physicalId }));
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
      }
    },
    restore: (record) => streamOf(record),
  });

  const bucketIdentity = (name: string): Provisioned => ({
    physicalId: name,
    attributes: {
      Arn: `arn:aws:s3:::${name}`,
      DomainName: `${name}.s3.amazonaws.com`,
      RegionalDomainName: `${name}.s3.${region}.amazonaws.com`,
      WebsiteURL: `http://${name}.s3-website-${region}.amazonaws.com`,
    },
  });
  // As CloudFormation does: VersioningConfiguration is a PutBucketVersioning (a versioned bucket stays versioned,
  // or suspended, once enabled).
  const versioning = async (bucket: string, r: DesiredResource) => {
    const status = (r.properties.VersioningConfiguration as { Status?: string } | undefined)?.Status;
    if (status === 'Enabled' || status === 'Suspended') await services.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: status } }));
  };
  map.set('AWS::S3::Bucket', {
    replaceOn: ['BucketName'],
    async create(r) {
      try {
        await services.s3.send(new CreateBucketCommand({ Bucket: r.physicalName }));
      } catch (error) {
        // A bucket kept by DeletionPolicy Retain (or an earlier runtime) is taken over with its objects.
        if ((error as Error).name !== 'BucketAlreadyOwnedByYou' && (error as Error).name !== 'BucketAlreadyExists') throw error;
      }
      await versioning(r.physicalName, r);
      return bucketIdentity(r.physicalName);
    },
    async update(previous, r) {
      await versioning(previous.physicalId, r);
      return bucketIdentity(previous.physicalId);
    },
    // A state folder from before the local S3 kept versions: its versioned buckets start keeping them now.
    restore: (record) => versioning(record.physicalId, record),
    async delete(record) {
      await services.s3.send(new DeleteBucketCommand({ Bucket: record.physicalId }));
    },
  });

  const notifications = (r: DesiredResource, enabled: boolean) => {
    const p = r.properties as { BucketName: string; NotificationConfiguration?: { EventBridgeConfiguration?: unknown } };
    services.eventBridge.setBucketEvents(p.BucketName, enabled && p.NotificationConfiguration?.EventBridgeConfiguration !== undefined);
  };
  map.set('Custom::S3BucketNotifications', {
    create(r) {
      notifications(r, true);
      return { physicalId: r.physicalName };
    },
    update(previous, r) {
      notifications(previous, false);
      notifications(r, true);
      return previous;
    },
    delete: (record) => notifications(record, false),
    restore: (record) => notifications(record, true),
  });

  const deployBucket = async (r: DesiredResource) => {
    await deployBucketContents(r, services);
    return { physicalId: r.physicalName };
  };
  map.set('Custom::CDKBucketDeployment', {
    create: deployBucket,
    update: (_, r) => deployBucket(r),
    // CDK's default (RetainOnDelete): the objects stay.
    delete: () => undefined,
  });

  const putAlarm = (r: DesiredResource): Provisioned => {
    const definition = alarmDefinition(r.logicalId, r.properties, r.physicalName, region, accountId);
    services.alarms.putAlarm(definition);
    return { physicalId: r.physicalName, attributes: { Arn: definition.alarmArn } };
  };
  map.set('AWS::CloudWatch::Alarm', {
    replaceOn: ['AlarmName'],
    create: putAlarm,
    update: (_, r) => putAlarm(r),
    delete: (record) => services.alarms.deleteAlarms([record.physicalId]),
    restore: (record) => void putAlarm(record),
  });

  const putDashboard = (r: DesiredResource): Provisioned => {
    const body = String(r.properties.DashboardBody ?? '');
    try {
      JSON.parse(body);
    } catch {
      throw new Error('The dashboard body is invalid, there are 1 validation errors: [ { "dataPath": "", "message": "Should be a valid JSON object" } ]');
    }
    services.dashboards.set(r.physicalName, body);
    return { physicalId: r.physicalName };
  };
  map.set('AWS::CloudWatch::Dashboard', {
    replaceOn: ['DashboardName'],
    create: putDashboard,
    update: (_, r) => putDashboard(r),
    delete: (record) => void services.dashboards.delete(record.physicalId),
    restore: (record) => void putDashboard(record),
  });

  const topicArn = (name: string) => `arn:aws:sns:${region}:${accountId}:${name}`;
  const putTopic = (r: DesiredResource): Provisioned => {
    const arn = topicArn(r.physicalName);
    const inline = (r.properties.Subscription ?? []) as { Protocol: string; Endpoint: string }[];
    services.sns.putTopic({
      logicalId: r.logicalId,
      name: r.physicalName,
      arn,
      subscriptions: inline.map((s): TopicSubscription => ({ protocol: String(s.Protocol), endpoint: String(s.Endpoint) })),
    });
    return { physicalId: arn, attributes: { TopicArn: arn, TopicName: r.physicalName } };
  };
  map.set('AWS::SNS::Topic', {
    replaceOn: ['TopicName'],
    create: putTopic,
    update: (_, r) => putTopic(r),
    delete: (record) => services.sns.deleteTopic(record.physicalId),
    restore: (record) => void putTopic(record),
  });
  const subscribeTopic = (r: DesiredResource) =>
    services.sns.subscribe(String(r.properties.TopicArn), { protocol: String(r.properties.Protocol), endpoint: String(r.properties.Endpoint) });
  map.set('AWS::SNS::Subscription', {
    create: (r) => ({ physicalId: subscribeTopic(r) }),
    delete: (record) => services.sns.unsubscribe(record.physicalId),
    restore: (record) => {
      services.sns.unsubscribe(record.physicalId);
      subscribeTopic(record);
    },
  });

  const putRule = (r: DesiredResource): Provisioned => {
    services.eventBridge.putRule(ruleDefinition(r.physicalName, r.properties));
    return { physicalId: r.physicalName, attributes: { Arn: `arn:aws:events:${region}:${accountId}:rule/${r.physicalName}` } };
  };
  map.set('AWS::Events::Rule', {
    replaceOn: ['Name', 'EventBusName'],
    create: putRule,
    update: (_, r) => putRule(r),
    delete: (record) => services.eventBridge.removeRule(record.physicalId),
    restore: (record) => void putRule(record),
  });

  const putMachine = (r: DesiredResource): Provisioned => {
    const arn = `arn:aws:states:${region}:${accountId}:stateMachine:${r.physicalName}`;
    services.stepFunctions.putMachine({ arn, name: r.physicalName, definition: stateMachine(r.logicalId, r.properties).definition });
    return { physicalId: arn, attributes: { Arn: arn, Name: r.physicalName } };
  };
  map.set('AWS::StepFunctions::StateMachine', {
    replaceOn: ['StateMachineName', 'StateMachineType'],
    create: putMachine,
    update: (_, r) => putMachine(r),
    delete: (record) => services.stepFunctions.deleteMachine(record.physicalId),
    restore: (record) => void putMachine(record),
  });

  // API Gateway: its state persists on its own (apigateway.json), so nothing needs restoring.
  const apiId = (r: DesiredResource) => String(r.properties.RestApiId);
  map.set('AWS::ApiGateway::RestApi', {
    create(r) {
      if (r.properties.Body !== undefined || r.properties.BodyS3Location !== undefined)
        throw new UnsupportedResourceError('a REST API imported from an OpenAPI definition (Body, BodyS3Location) is not emulated locally');
      const api = gateway.createRestApi(String(r.properties.Name ?? r.physicalName), r.properties.Description as string | undefined);
      return { physicalId: api.id, attributes: { RestApiId: api.id, RootResourceId: api.rootResourceId } };
    },
    update: (previous) => previous,
    delete: (record) => gateway.deleteRestApi(record.physicalId),
  });
  map.set('AWS::ApiGateway::Resource', {
    create(r) {
      const resource = gateway.createResource(apiId(r), String(r.properties.ParentId), String(r.properties.PathPart));
      return { physicalId: resource.id, attributes: { ResourceId: resource.id } };
    },
    delete: (record) => gateway.deleteResource(apiId(record), record.physicalId),
  });
  const putMethod = (r: DesiredResource): Provisioned => {
    const p = r.properties as {
      HttpMethod: string;
      ResourceId: string;
      ApiKeyRequired?: boolean | string;
      AuthorizationType?: string;
      AuthorizerId?: string;
      RequestValidatorId?: string;
      RequestModels?: Record<string, string>;
      Integration?: { Type?: string; Uri?: string };
    };
    const uri = lambdaInvocationUri(p.Integration?.Uri);
    if (p.Integration?.Type !== 'AWS_PROXY' || !uri)
      throw new UnsupportedResourceError(
        `integration ${p.Integration?.Type ?? '(none)'} ${String(p.Integration?.Uri ?? '')}: only Lambda proxy (AWS_PROXY) integrations are emulated locally`,
      );
    const authorization = p.AuthorizationType ?? 'NONE';
    if (authorization !== 'NONE' && authorization !== 'CUSTOM')
      throw new UnsupportedResourceError(`authorization ${authorization}: only API keys and Lambda (CUSTOM) authorizers are emulated locally`);
    const target = uri;
    const method: MethodDefinition = {
      httpMethod: p.HttpMethod.toUpperCase(),
      apiKeyRequired: p.ApiKeyRequired === true || p.ApiKeyRequired === 'true',
      ...(authorization === 'CUSTOM' ? { authorizationType: 'CUSTOM' as const, authorizerId: String(p.AuthorizerId) } : {}),
      functionName: functionName(target),
      ...(qualifierOf(target) ? { qualifier: qualifierOf(target) as string } : {}),
      ...(p.RequestValidatorId ? { requestValidatorId: p.RequestValidatorId } : {}),
      ...(p.RequestModels ? { requestModels: p.RequestModels } : {}),
    };
    gateway.putMethod(apiId(r), p.ResourceId, method);
    const id = `${p.ResourceId}-${method.httpMethod}`;
    return { physicalId: id };
  };
  map.set('AWS::ApiGateway::Method', {
    replaceOn: ['RestApiId', 'ResourceId', 'HttpMethod'],
    create: putMethod,
    update: (_, r) => putMethod(r),
    delete: (record) => gateway.deleteMethod(apiId(record), String(record.properties.ResourceId), String(record.properties.HttpMethod).toUpperCase()),
  });
  const authorizer = (r: DesiredResource): AuthorizerDefinition => {
    const p = r.properties as {
      Name?: string;
      Type?: string;
      AuthorizerUri?: string;
      IdentitySource?: string;
      AuthorizerResultTtlInSeconds?: number | string;
      AuthorizerCredentials?: string;
    };
    if (p.Type !== 'REQUEST') throw new UnsupportedResourceError(`authorizer type ${String(p.Type)}: only REQUEST Lambda authorizers are emulated locally`);
    if (p.AuthorizerCredentials)
      throw new UnsupportedResourceError('an authorizer invoked with a role (AuthorizerCredentials) is not emulated locally: give the function a resource policy');
    const uri = lambdaInvocationUri(p.AuthorizerUri);
    if (!uri) throw new UnsupportedResourceError(`authorizer URI ${String(p.AuthorizerUri)}: not a Lambda function`);
    const sources = String(p.IdentitySource ?? '')
      .split(',')
      .map((source) => source.trim())
      .filter(Boolean);
    const unsupported = sources.find((source) => !/^method\.request\.(header|querystring)\./i.test(source));
    if (unsupported) throw new UnsupportedResourceError(`identity source ${unsupported}: only headers and query strings are emulated locally`);
    return {
      name: String(p.Name ?? r.physicalName),
      functionName: functionName(uri),
      ...(qualifierOf(uri) ? { qualifier: qualifierOf(uri) as string } : {}),
      identitySources: sources,
      // API Gateway's default TTL is 300 s.
      ttlSeconds: p.AuthorizerResultTtlInSeconds === undefined ? 300 : Number(p.AuthorizerResultTtlInSeconds),
    };
  };
  map.set('AWS::ApiGateway::Authorizer', {
    replaceOn: ['RestApiId'],
    create(r) {
      const id = gateway.createAuthorizer(apiId(r), authorizer(r));
      return { physicalId: id, attributes: { AuthorizerId: id } };
    },
    update(previous, r) {
      gateway.updateAuthorizer(apiId(r), previous.physicalId, authorizer(r));
      return previous;
    },
    delete: (record) => gateway.deleteAuthorizer(apiId(record), record.physicalId),
  });
  map.set('AWS::ApiGateway::Deployment', {
    create(r) {
      const stageName = r.properties.StageName as string | undefined;
      const deployment = gateway.createDeployment(apiId(r), {
        ...(stageName ? { stageName } : {}),
        ...(r.properties.Description ? { description: String(r.properties.Description) } : {}),
      });
      return { physicalId: deployment.id, attributes: { DeploymentId: deployment.id } };
    },
    delete: (record) => gateway.deleteDeployment(apiId(record), record.physicalId),
  });
  const putStage = (r: DesiredResource): Provisioned => {
    const stageName = String(r.properties.StageName);
    gateway.putStage(apiId(r), stageName, String(r.properties.DeploymentId));
    return { physicalId: stageName };
  };
  map.set('AWS::ApiGateway::Stage', {
    replaceOn: ['RestApiId', 'StageName'],
    create: putStage,
    update: (_, r) => putStage(r),
    delete: (record) => gateway.deleteStage(apiId(record), record.physicalId),
  });
  const putResponse = (r: DesiredResource): Provisioned => {
    const p = r.properties as { ResponseType: string; StatusCode?: string; ResponseParameters?: Record<string, string>; ResponseTemplates?: Record<string, string> };
    gateway.putGatewayResponse(apiId(r), p.ResponseType, {
      ...(p.StatusCode !== undefined ? { statusCode: String(p.StatusCode) } : {}),
      ...(p.ResponseParameters ? { responseParameters: p.ResponseParameters } : {}),
      ...(p.ResponseTemplates ? { responseTemplates: p.ResponseTemplates } : {}),
    });
    return { physicalId: `${apiId(r)}-${p.ResponseType}` };
  };
  map.set('AWS::ApiGateway::GatewayResponse', {
    replaceOn: ['RestApiId', 'ResponseType'],
    create: putResponse,
    update: (_, r) => putResponse(r),
    delete: (record) => gateway.deleteGatewayResponse(apiId(record), String(record.properties.ResponseType)),
  });
  map.set('AWS::ApiGateway::RequestValidator', {
    create(r) {
      const id = gateway.createRequestValidator(apiId(r), {
        name: String(r.properties.Name ?? r.physicalName),
        validateRequestBody: r.properties.ValidateRequestBody === true || r.properties.ValidateRequestBody === 'true',
        validateRequestParameters: r.properties.ValidateRequestParameters === true || r.properties.ValidateRequestParameters === 'true',
      });
      return { physicalId: id, attributes: { RequestValidatorId: id } };
    },
    delete: (record) => gateway.deleteRequestValidator(apiId(record), record.physicalId),
  });
  map.set('AWS::ApiGateway::Model', {
    create(r) {
      const name = String(r.properties.Name ?? r.physicalName.replace(/[^A-Za-z0-9]/g, ''));
      const schema = typeof r.properties.Schema === 'string' ? (JSON.parse(r.properties.Schema) as unknown) : r.properties.Schema;
      gateway.createModel(apiId(r), name, String(r.properties.ContentType ?? 'application/json'), schema);
      return { physicalId: name };
    },
    delete: (record) => gateway.deleteModel(apiId(record), record.physicalId),
  });
  map.set('AWS::ApiGateway::ApiKey', {
    replaceOn: ['Name', 'Value'],
    create(r) {
      const p = r.properties as { Name?: string; Value?: string; Enabled?: boolean | string; Description?: string; StageKeys?: { RestApiId: string; StageName: string }[] };
      const key = gateway.createApiKey({
        name: p.Name ?? r.physicalName,
        ...(p.Value ? { value: p.Value } : {}),
        enabled: p.Enabled === true || p.Enabled === 'true',
        ...(p.Description ? { description: p.Description } : {}),
        stageKeys: (p.StageKeys ?? []).map((k) => `${k.RestApiId}/${k.StageName}`),
      });
      return { physicalId: key.id, attributes: { APIKeyId: key.id } };
    },
    delete: (record) => gateway.deleteApiKey(record.physicalId),
  });
  map.set('AWS::ApiGateway::UsagePlan', {
    create(r) {
      const p = r.properties as {
        UsagePlanName?: string;
        Description?: string;
        ApiStages?: { ApiId: string; Stage: string }[];
        Throttle?: { BurstLimit?: number; RateLimit?: number };
        Quota?: { Limit?: number; Period?: string };
      };
      const plan = gateway.createUsagePlan({
        name: p.UsagePlanName ?? r.physicalName,
        ...(p.Description ? { description: p.Description } : {}),
        apiStages: (p.ApiStages ?? []).map((s) => ({ apiId: s.ApiId, stage: s.Stage })),
        ...(p.Throttle ? { throttle: { burstLimit: Number(p.Throttle.BurstLimit), rateLimit: Number(p.Throttle.RateLimit) } } : {}),
        ...(p.Quota ? { quota: { limit: Number(p.Quota.Limit), period: String(p.Quota.Period) } } : {}),
      });
      return { physicalId: plan.id, attributes: { Id: plan.id } };
    },
    delete: (record) => gateway.deleteUsagePlan(record.physicalId),
  });
  map.set('AWS::ApiGateway::UsagePlanKey', {
    create(r) {
      gateway.addUsagePlanKey(String(r.properties.UsagePlanId), String(r.properties.KeyId));
      return { physicalId: String(r.properties.KeyId), attributes: { Id: String(r.properties.KeyId) } };
    },
    delete: (record) => gateway.removeUsagePlanKey(String(record.properties.UsagePlanId), record.physicalId),
  });
  return map;
}

/** The function (name or ARN, with its qualifier) of a Lambda invocation URI API Gateway calls, or undefined. */
function lambdaInvocationUri(uri: unknown): string | undefined {
  return /^arn:aws:apigateway:[^:]+:lambda:path\/2015-03-31\/functions\/(.+)\/invocations$/.exec(String(uri ?? ''))?.[1];
}

/** A function name, partial or full ARN ("my-fn", "my-fn:live", "arn:aws:lambda:r:a:function:my-fn:7") -> the name. */
function functionName(value: string): string {
  const arn = /^arn:aws:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(value);
  return arn ? (arn[1] as string) : (value.split(':')[0] as string);
}

function qualifierOf(value: string): string | undefined {
  const arn = /^arn:aws:lambda:[^:]*:[^:]*:function:[^:]+:([^:]+)$/.exec(value);
  if (arn) return arn[1];
  return value.startsWith('arn:') ? undefined : value.split(':')[1];
}

/**
 * Custom::CDKBucketDeployment: copies the asset folder of each source into the destination bucket and
 * prefix, with the source's markers (Source.jsonData / Source.data tokens) replaced by their values, as CDK's
 * handler syncs them: a changed object is written again (a deploy republishes the model stack's template and
 * the declarations), an object already there with the same bytes is left alone, so an unchanged bundle's
 * manifest does not start the pipeline again.
 */
async function deployBucketContents(r: DesiredResource, services: ProvisionerServices): Promise<void> {
  const p = r.properties as {
    SourceObjectKeys: string[];
    DestinationBucketName: string;
    DestinationBucketKeyPrefix?: string;
    SourceMarkers?: Record<string, string>[];
    SourceMarkersConfig?: { jsonEscape?: boolean }[];
  };
  const prefix = p.DestinationBucketKeyPrefix ? `${p.DestinationBucketKeyPrefix.replace(/\/$/, '')}/` : '';
  for (const [index, key] of p.SourceObjectKeys.entries()) {
    const folder = join(services.assetDirectory(), `asset.${key.replace(/\.zip$/, '')}`);
    if (!existsSync(folder)) throw new Error(`asset folder ${folder} is missing from the synthesized assembly`);
    const markers = Object.entries(p.SourceMarkers?.[index] ?? {});
    const jsonEscape = p.SourceMarkersConfig?.[index]?.jsonEscape === true;
    // The manifest last, as `modelgate push` uploads: its arrival is what starts the promotion pipeline.
    const files = listFiles(folder).sort((x, y) => Number(x.endsWith('manifest.json')) - Number(y.endsWith('manifest.json')));
    for (const file of files) {
      const objectKey = `${prefix}${relative(folder, file).split('\\').join('/')}`;
      let body = readFileSync(file);
      if (markers.length > 0) {
        let text = body.toString('utf8');
        for (const [marker, value] of markers) text = text.split(marker).join(jsonEscape ? JSON.stringify(String(value)).slice(1, -1) : String(value));
        body = Buffer.from(text);
      }
      if ((await objectBytes(services.s3, p.DestinationBucketName, objectKey))?.equals(body)) continue;
      await services.s3.send(new PutObjectCommand({ Bucket: p.DestinationBucketName, Key: objectKey, Body: body }));
    }
  }
}

function listFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((entry) => {
    const path = join(folder, entry);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

/** The object's content, or undefined when there is no such object. */
async function objectBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from((await object.Body?.transformToByteArray()) ?? []);
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey' || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
    throw error;
  }
}
