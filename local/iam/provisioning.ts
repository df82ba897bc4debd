// What CloudFormation's resource handlers ask IAM when they create, update or delete a resource: the calls they
// make to the resource's service (lambda:CreateFunction, iam:CreateRole, apigateway:PUT ...) and what those
// services check of the caller on the way (iam:PassRole of a function's role, s3:GetObject of its code, the
// permissions boundary a created role carries). They are made as the stack's service role, or as whoever
// called CloudFormation when the stack has none. The calls follow the properties the template sets (a tag
// call only with tags, a concurrency call only with reserved concurrency); the handlers' reads and
// stabilization calls (Get*, List*, Describe*) are not checked (docs/local-runtime.md).
import type { ResourceRecord } from '../cloudformation/provisioner';
import type { ResourceChange } from '../cloudformation/stacks';
import type { AccessRequest } from './authorizer';
import type { IamModel } from './iam-model';

export type Check = Omit<AccessRequest, 'caller'>;

export interface ProvisioningScope {
  readonly region: string;
  readonly accountId: string;
  readonly model: IamModel;
}

type Properties = Readonly<Record<string, unknown>>;
type Checks = (change: ResourceChange, scope: ProvisioningScope) => Check[];

/** Types whose resources carry the stack's tags (CloudFormation propagates them on create and update). */
const TAGGED = new Set([
  'AWS::Lambda::Function',
  'AWS::IAM::Role',
  'AWS::Logs::LogGroup',
  'AWS::SNS::Topic',
  'AWS::S3::Bucket',
  'AWS::DynamoDB::Table',
  'AWS::Events::Rule',
  'AWS::StepFunctions::StateMachine',
  'AWS::KMS::Key',
  'AWS::SQS::Queue',
  'AWS::CloudWatch::Alarm',
]);

/**
 * The checks of one resource change; undefined when the local runtime does not know what the type's handler
 * calls (the change is then refused for any caller but the operator: an unknown grant is not assumed).
 */
export function provisioningChecks(change: ResourceChange, scope: ProvisioningScope): Check[] | undefined {
  const type = change.resource.type;
  const checks = type.startsWith('Custom::') ? customResource : CHECKS[type];
  if (!checks) return undefined;
  const tagged = change.resource.properties.Tags !== undefined || change.stack.tags.length > 0;
  const tags = TAGGED.has(type) && (change.action === 'create' ? tagged : change.action === 'update' && changed(change, 'Tags'));
  return [...checks(change, scope), ...(tags ? tagChecks(change, scope) : [])];
}

const check = (action: string, resource: string, context?: Check['context']): Check => ({ action, resource, ...(context ? { context } : {}) });

/** The resource as it exists (update, delete). */
function existing(change: ResourceChange): ResourceRecord | undefined {
  return change.previous ?? (change.action === 'delete' ? (change.resource as ResourceRecord) : undefined);
}

/** The resource's physical id: what it is called once it exists (create: the name it gets). */
function physicalId(change: ResourceChange): string {
  return existing(change)?.physicalId ?? change.resource.physicalName;
}

/** Whether a property differs from the resource's current value (always true on create and delete). */
function changed(change: ResourceChange, ...keys: string[]): boolean {
  if (!change.previous) return true;
  const before = change.previous.properties;
  return keys.some((key) => JSON.stringify(before[key]) !== JSON.stringify(change.resource.properties[key]));
}

const lambdaArn = (scope: ProvisioningScope, name: string, qualifier?: string) =>
  `arn:aws:lambda:${scope.region}:${scope.accountId}:function:${name}${qualifier ? `:${qualifier}` : ''}`;
const apiArn = (scope: ProvisioningScope, path: string) => `arn:aws:apigateway:${scope.region}::${path}`;

/** A function's name and qualifier from a name, a partial ARN or an ARN, as Lambda reads FunctionName. */
function lambdaTarget(scope: ProvisioningScope, value: unknown): string {
  const text = String(value);
  const arn = /^arn:aws:lambda:[^:]*:[^:]*:function:([^:]+)(?::([^:]+))?$/.exec(text);
  if (arn) return lambdaArn(scope, arn[1] as string, arn[2]);
  const [name = '', qualifier] = text.split(':');
  return lambdaArn(scope, name, qualifier);
}

function roleArnOf(scope: ProvisioningScope, nameOrArn: string): string {
  return nameOrArn.startsWith('arn:') ? nameOrArn : (scope.model.roleArn(nameOrArn) ?? `arn:aws:iam::${scope.accountId}:role/${nameOrArn}`);
}

/** The request context IAM gives the role-changing actions: the boundary the role has (or gets). */
function boundaryContext(boundaryArn: string | undefined): Check['context'] {
  return boundaryArn === undefined ? undefined : { 'iam:PermissionsBoundary': boundaryArn };
}

function passRole(roleArn: unknown, service: string): Check[] {
  return typeof roleArn === 'string' ? [check('iam:PassRole', roleArn, { 'iam:PassedToService': service })] : [];
}

/**
 * Lambda reads the code object with the caller's permissions (and the bucket's key, when it has one), and pulls a
 * same-account image from ECR with them too (its layers; the repository's policy must also admit Lambda).
 */
function codeChecks(p: Properties, scope: ProvisioningScope): Check[] {
  const code = (p.Code ?? {}) as { S3Bucket?: string; S3Key?: string; S3ObjectVersion?: string; ImageUri?: string };
  if (typeof code.ImageUri === 'string') {
    const image = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com\/([^:@]+)/.exec(code.ImageUri);
    if (!image) return [];
    const repository = `arn:aws:ecr:${image[2]}:${image[1]}:repository/${image[3]}`;
    return [check('ecr:BatchGetImage', repository), check('ecr:GetDownloadUrlForLayer', repository)];
  }
  if (code.S3Bucket === undefined || code.S3Key === undefined) return [];
  const key = scope.model.bucketKey(code.S3Bucket);
  return [
    check(code.S3ObjectVersion ? 's3:GetObjectVersion' : 's3:GetObject', `arn:aws:s3:::${code.S3Bucket}/${code.S3Key}`),
    ...(key && key.keyArn !== 'aws-managed'
      ? [
          check('kms:Decrypt', key.keyArn, {
            'kms:ViaService': `s3.${scope.region}.amazonaws.com`,
            'kms:CallerAccount': scope.accountId,
            'kms:EncryptionContext:aws:s3:arn': key.bucketKey ? `arn:aws:s3:::${code.S3Bucket}` : `arn:aws:s3:::${code.S3Bucket}/${code.S3Key}`,
          }),
        ]
      : []),
  ];
}

const inlinePolicyNames = (p: Properties | undefined) => ((p?.Policies ?? []) as { PolicyName: string }[]).map((policy) => policy.PolicyName);

const CHECKS: Readonly<Record<string, Checks>> = {
  'AWS::IAM::Role'(change, scope) {
    const p = change.resource.properties;
    const arn = String(existing(change)?.attributes.Arn ?? `arn:aws:iam::${scope.accountId}:role${typeof p.Path === 'string' ? p.Path : '/'}${physicalId(change)}`);
    const boundary = boundaryContext(typeof p.PermissionsBoundary === 'string' ? p.PermissionsBoundary : undefined);
    const managed = (q: Properties | undefined) => ((q?.ManagedPolicyArns ?? []) as string[]).map(String);
    const attach = (arns: string[], action: string) => arns.map((policyArn) => check(action, arn, { ...boundary, 'iam:PolicyARN': policyArn }));
    if (change.action === 'create') {
      return [check('iam:CreateRole', arn, boundary), ...inlinePolicyNames(p).map(() => check('iam:PutRolePolicy', arn, boundary)), ...attach(managed(p), 'iam:AttachRolePolicy')];
    }
    if (change.action === 'delete') {
      return [
        ...inlinePolicyNames(p).map(() => check('iam:DeleteRolePolicy', arn, boundary)),
        ...attach(managed(p), 'iam:DetachRolePolicy'),
        check('iam:DeleteRole', arn, boundary),
      ];
    }
    const before = change.previous?.properties;
    const beforeBoundary = typeof before?.PermissionsBoundary === 'string' ? before.PermissionsBoundary : undefined;
    return [
      ...(changed(change, 'AssumeRolePolicyDocument') ? [check('iam:UpdateAssumeRolePolicy', arn, boundary)] : []),
      ...(changed(change, 'Description', 'MaxSessionDuration') ? [check('iam:UpdateRole', arn)] : []),
      ...(changed(change, 'PermissionsBoundary')
        ? [
            p.PermissionsBoundary === undefined
              ? check('iam:DeleteRolePermissionsBoundary', arn, boundaryContext(beforeBoundary))
              : check('iam:PutRolePermissionsBoundary', arn, boundary),
          ]
        : []),
      ...(changed(change, 'Policies') ? inlinePolicyNames(p).map(() => check('iam:PutRolePolicy', arn, boundary)) : []),
      ...inlinePolicyNames(before)
        .filter((name) => !inlinePolicyNames(p).includes(name))
        .map(() => check('iam:DeleteRolePolicy', arn, boundary)),
      ...attach(
        managed(p).filter((m) => !managed(before).includes(m)),
        'iam:AttachRolePolicy',
      ),
      ...attach(
        managed(before).filter((m) => !managed(p).includes(m)),
        'iam:DetachRolePolicy',
      ),
    ];
  },
  'AWS::IAM::Policy'(change, scope) {
    const roles = (q: Properties | undefined) => ((q?.Roles ?? []) as string[]).map((role) => roleArnOf(scope, String(role)));
    const onRole = (action: string) => (arn: string) => check(action, arn, boundaryContext(scope.model.role(arn)?.boundaryArn));
    if (change.action === 'delete') return roles(change.resource.properties).map(onRole('iam:DeleteRolePolicy'));
    const now = roles(change.resource.properties);
    return [
      ...now.map(onRole('iam:PutRolePolicy')),
      ...roles(change.previous?.properties)
        .filter((arn) => !now.includes(arn))
        .map(onRole('iam:DeleteRolePolicy')),
    ];
  },
  'AWS::IAM::ManagedPolicy'(change, scope) {
    const policyArn =
      change.action === 'create'
        ? `arn:aws:iam::${scope.accountId}:policy${typeof change.resource.properties.Path === 'string' ? change.resource.properties.Path : '/'}${physicalId(change)}`
        : physicalId(change);
    const roles = (q: Properties | undefined) => ((q?.Roles ?? []) as string[]).map((role) => roleArnOf(scope, String(role)));
    const onRole = (action: string) => (arn: string) => check(action, arn, { ...boundaryContext(scope.model.role(arn)?.boundaryArn), 'iam:PolicyARN': policyArn });
    if (change.action === 'create') return [check('iam:CreatePolicy', policyArn), ...roles(change.resource.properties).map(onRole('iam:AttachRolePolicy'))];
    if (change.action === 'delete') return [...roles(change.resource.properties).map(onRole('iam:DetachRolePolicy')), check('iam:DeletePolicy', policyArn)];
    const now = roles(change.resource.properties);
    const before = roles(change.previous?.properties);
    return [
      ...(changed(change, 'PolicyDocument') ? [check('iam:CreatePolicyVersion', policyArn)] : []),
      ...now.filter((arn) => !before.includes(arn)).map(onRole('iam:AttachRolePolicy')),
      ...before.filter((arn) => !now.includes(arn)).map(onRole('iam:DetachRolePolicy')),
    ];
  },
  'AWS::Lambda::Function'(change, scope) {
    const p = change.resource.properties;
    const arn = lambdaArn(scope, physicalId(change));
    const concurrency =
      p.ReservedConcurrentExecutions !== undefined
        ? [check('lambda:PutFunctionConcurrency', arn)]
        : change.previous?.properties.ReservedConcurrentExecutions !== undefined
          ? [check('lambda:DeleteFunctionConcurrency', arn)]
          : [];
    if (change.action === 'create') return [check('lambda:CreateFunction', arn), ...passRole(p.Role, 'lambda.amazonaws.com'), ...codeChecks(p, scope), ...concurrency];
    if (change.action === 'delete') return [check('lambda:DeleteFunction', arn)];
    const configuration = Object.keys({ ...p, ...change.previous?.properties }).filter((key) => !['Code', 'Tags', 'ReservedConcurrentExecutions', 'FunctionName'].includes(key));
    return [
      ...(changed(change, ...configuration) ? [check('lambda:UpdateFunctionConfiguration', arn), ...passRole(p.Role, 'lambda.amazonaws.com')] : []),
      ...(changed(change, 'Code') ? [check('lambda:UpdateFunctionCode', arn), ...codeChecks(p, scope)] : []),
      ...(changed(change, 'ReservedConcurrentExecutions') ? concurrency : []),
    ];
  },
  'AWS::Lambda::Version'(change, scope) {
    const target = lambdaTarget(scope, change.resource.properties.FunctionName);
    return change.action === 'delete' ? [check('lambda:DeleteFunction', physicalId(change))] : [check('lambda:PublishVersion', target)];
  },
  'AWS::Lambda::Alias'(change, scope) {
    const p = change.resource.properties;
    const arn = `${lambdaTarget(scope, p.FunctionName)}:${String(p.Name)}`;
    return [check(change.action === 'create' ? 'lambda:CreateAlias' : change.action === 'update' ? 'lambda:UpdateAlias' : 'lambda:DeleteAlias', arn)];
  },
  'AWS::Lambda::Permission'(change, scope) {
    return [check(change.action === 'delete' ? 'lambda:RemovePermission' : 'lambda:AddPermission', lambdaTarget(scope, change.resource.properties.FunctionName))];
  },
  'AWS::Lambda::EventSourceMapping'(change, scope) {
    const functionArn = lambdaTarget(scope, change.resource.properties.FunctionName);
    const mapping = `arn:aws:lambda:${scope.region}:${scope.accountId}:event-source-mapping:${change.action === 'create' ? '*' : physicalId(change)}`;
    const action = { create: 'lambda:CreateEventSourceMapping', update: 'lambda:UpdateEventSourceMapping', delete: 'lambda:DeleteEventSourceMapping' }[change.action];
    return [check(action, change.action === 'create' ? '*' : mapping, { 'lambda:FunctionArn': functionArn })];
  },
  'AWS::Lambda::LayerVersion'(change, scope) {
    const layer = `arn:aws:lambda:${scope.region}:${scope.accountId}:layer:${change.resource.physicalName}`;
    return change.action === 'delete' ? [check('lambda:DeleteLayerVersion', physicalId(change))] : [check('lambda:PublishLayerVersion', layer)];
  },
  'AWS::Logs::LogGroup'(change, scope) {
    const p = change.resource.properties;
    const arn = `arn:aws:logs:${scope.region}:${scope.accountId}:log-group:${physicalId(change)}`;
    if (change.action === 'delete') return [check('logs:DeleteLogGroup', arn)];
    const retention =
      p.RetentionInDays !== undefined
        ? [check('logs:PutRetentionPolicy', arn)]
        : change.previous?.properties.RetentionInDays !== undefined
          ? [check('logs:DeleteRetentionPolicy', arn)]
          : [];
    const key = p.KmsKeyId !== undefined && changed(change, 'KmsKeyId') ? [check('logs:AssociateKmsKey', arn)] : [];
    return [...(change.action === 'create' ? [check('logs:CreateLogGroup', arn)] : []), ...(changed(change, 'RetentionInDays') ? retention : []), ...key];
  },
  'AWS::ApiGateway::RestApi'(change, scope) {
    return [
      change.action === 'create'
        ? check('apigateway:POST', apiArn(scope, '/restapis'))
        : check(change.action === 'update' ? 'apigateway:PATCH' : 'apigateway:DELETE', apiArn(scope, `/restapis/${physicalId(change)}`)),
    ];
  },
  'AWS::ApiGateway::Resource'(change, scope) {
    const p = change.resource.properties;
    const api = `/restapis/${String(p.RestApiId)}`;
    if (change.action === 'create') return [check('apigateway:POST', apiArn(scope, `${api}/resources/${String(p.ParentId)}`))];
    return [check(change.action === 'update' ? 'apigateway:PATCH' : 'apigateway:DELETE', apiArn(scope, `${api}/resources/${physicalId(change)}`))];
  },
  'AWS::ApiGateway::Method'(change, scope) {
    const p = change.resource.properties;
    const method = apiArn(scope, `/restapis/${String(p.RestApiId)}/resources/${String(p.ResourceId)}/methods/${String(p.HttpMethod).toUpperCase()}`);
    if (change.action === 'delete') return [check('apigateway:DELETE', method)];
    // PutMethod, then PutIntegration; an integration that calls AWS with a role passes it to API Gateway.
    const credentials = (p.Integration as { Credentials?: string } | undefined)?.Credentials;
    return [
      check('apigateway:PUT', method),
      ...(p.Integration !== undefined ? [check('apigateway:PUT', `${method}/integration`)] : []),
      ...passRole(credentials, 'apigateway.amazonaws.com'),
    ];
  },
  'AWS::ApiGateway::Deployment'(change, scope) {
    const api = `/restapis/${String(change.resource.properties.RestApiId)}`;
    return [
      change.action === 'create'
        ? check('apigateway:POST', apiArn(scope, `${api}/deployments`))
        : check(change.action === 'update' ? 'apigateway:PATCH' : 'apigateway:DELETE', apiArn(scope, `${api}/deployments/${physicalId(change)}`)),
    ];
  },
  'AWS::ApiGateway::Stage'(change, scope) {
    const api = `/restapis/${String(change.resource.properties.RestApiId)}`;
    return [
      change.action === 'create'
        ? check('apigateway:POST', apiArn(scope, `${api}/stages`))
        : check(change.action === 'update' ? 'apigateway:PATCH' : 'apigateway:DELETE', apiArn(scope, `${api}/stages/${physicalId(change)}`)),
    ];
  },
  'AWS::ApiGateway::GatewayResponse'(change, scope) {
    const p = change.resource.properties;
    return [
      check(change.action === 'delete' ? 'apigateway:DELETE' : 'apigateway:PUT', apiArn(scope, `/restapis/${String(p.RestApiId)}/gatewayresponses/${String(p.ResponseType)}`)),
    ];
  },
  'AWS::ApiGateway::RequestValidator': apiChild('requestvalidators'),
  'AWS::ApiGateway::Authorizer': apiChild('authorizers'),
  'AWS::ApiGateway::Model': apiChild('models'),
  'AWS::ApiGateway::ApiKey'(change, scope) {
    return [
      change.action === 'create'
        ? check('apigateway:POST', apiArn(scope, '/apikeys'))
        : check(change.action === 'update' ? 'apigateway:PATCH' : 'apigateway:DELETE', apiArn(scope, `/apikeys/${physicalId(change)}`)),
    ];
  },
  'AWS::ApiGateway::UsagePlan'(change, scope) {
    return [
      change.action === 'create'
        ? check('apigateway:POST', apiArn(scope, '/usageplans'))
        : check(change.action === 'update' ? 'apigateway:PATCH' : 'apigateway:DELETE', apiArn(scope, `/usageplans/${physicalId(change)}`)),
    ];
  },
  'AWS::ApiGateway::UsagePlanKey'(change, scope) {
    const plan = `/usageplans/${String(change.resource.properties.UsagePlanId)}/keys`;
    return [change.action === 'delete' ? check('apigateway:DELETE', apiArn(scope, `${plan}/${physicalId(change)}`)) : check('apigateway:POST', apiArn(scope, plan))];
  },
  'AWS::ApiGateway::Account'(change, scope) {
    return [
      check('apigateway:PATCH', apiArn(scope, '/account')),
      ...(change.action === 'delete' ? [] : passRole(change.resource.properties.CloudWatchRoleArn, 'apigateway.amazonaws.com')),
    ];
  },
  'AWS::CloudWatch::Dashboard'(change, scope) {
    const arn = `arn:aws:cloudwatch::${scope.accountId}:dashboard/${physicalId(change)}`;
    return [check(change.action === 'delete' ? 'cloudwatch:DeleteDashboards' : 'cloudwatch:PutDashboard', arn)];
  },
  'AWS::CloudWatch::Alarm'(change, scope) {
    const arn = `arn:aws:cloudwatch:${scope.region}:${scope.accountId}:alarm:${physicalId(change)}`;
    return [check(change.action === 'delete' ? 'cloudwatch:DeleteAlarms' : 'cloudwatch:PutMetricAlarm', arn)];
  },
  'AWS::SNS::Topic'(change, scope) {
    const arn = change.action === 'create' ? `arn:aws:sns:${scope.region}:${scope.accountId}:${physicalId(change)}` : physicalId(change);
    if (change.action === 'delete') return [check('sns:DeleteTopic', arn)];
    const subscriptions = ((change.resource.properties.Subscription ?? []) as unknown[]).map(() => check('sns:Subscribe', arn));
    return [...(change.action === 'create' ? [check('sns:CreateTopic', arn)] : [check('sns:SetTopicAttributes', arn)]), ...(changed(change, 'Subscription') ? subscriptions : [])];
  },
  'AWS::SNS::Subscription'(change) {
    return [check(change.action === 'delete' ? 'sns:Unsubscribe' : 'sns:Subscribe', String(change.resource.properties.TopicArn))];
  },
  'AWS::SNS::TopicPolicy'(change) {
    return ((change.resource.properties.Topics ?? []) as string[]).map((topic) => check('sns:SetTopicAttributes', String(topic)));
  },
  'AWS::S3::Bucket'(change) {
    const arn = `arn:aws:s3:::${physicalId(change)}`;
    if (change.action === 'delete') return [check('s3:DeleteBucket', arn)];
    const configuration: Readonly<Record<string, string>> = {
      BucketEncryption: 's3:PutEncryptionConfiguration',
      VersioningConfiguration: 's3:PutBucketVersioning',
      PublicAccessBlockConfiguration: 's3:PutBucketPublicAccessBlock',
      LifecycleConfiguration: 's3:PutLifecycleConfiguration',
      OwnershipControls: 's3:PutBucketOwnershipControls',
      CorsConfiguration: 's3:PutBucketCORS',
      LoggingConfiguration: 's3:PutBucketLogging',
      NotificationConfiguration: 's3:PutBucketNotification',
    };
    const p = change.resource.properties;
    return [
      ...(change.action === 'create' ? [check('s3:CreateBucket', arn)] : []),
      ...Object.entries(configuration)
        .filter(([key]) => p[key] !== undefined && changed(change, key))
        .map(([, action]) => check(action, arn)),
    ];
  },
  'AWS::S3::BucketPolicy'(change) {
    return [check(change.action === 'delete' ? 's3:DeleteBucketPolicy' : 's3:PutBucketPolicy', `arn:aws:s3:::${String(change.resource.properties.Bucket)}`)];
  },
  'AWS::DynamoDB::Table'(change, scope) {
    const arn = `arn:aws:dynamodb:${scope.region}:${scope.accountId}:table/${physicalId(change)}`;
    if (change.action === 'delete') return [check('dynamodb:DeleteTable', arn)];
    const p = change.resource.properties;
    return [
      check(change.action === 'create' ? 'dynamodb:CreateTable' : 'dynamodb:UpdateTable', arn),
      ...(p.TimeToLiveSpecification !== undefined && changed(change, 'TimeToLiveSpecification') ? [check('dynamodb:UpdateTimeToLive', arn)] : []),
      ...(p.PointInTimeRecoverySpecification !== undefined && changed(change, 'PointInTimeRecoverySpecification') ? [check('dynamodb:UpdateContinuousBackups', arn)] : []),
    ];
  },
  'AWS::Events::Rule'(change, scope) {
    const arn = `arn:aws:events:${scope.region}:${scope.accountId}:rule/${physicalId(change)}`;
    if (change.action === 'delete') return [check('events:RemoveTargets', arn), check('events:DeleteRule', arn)];
    const targets = (change.resource.properties.Targets ?? []) as { RoleArn?: string }[];
    return [check('events:PutRule', arn), ...(targets.length > 0 ? [check('events:PutTargets', arn)] : []), ...targets.flatMap((t) => passRole(t.RoleArn, 'events.amazonaws.com'))];
  },
  'AWS::StepFunctions::StateMachine'(change, scope) {
    const p = change.resource.properties;
    const arn = change.action === 'create' ? `arn:aws:states:${scope.region}:${scope.accountId}:stateMachine:${physicalId(change)}` : physicalId(change);
    if (change.action === 'delete') return [check('states:DeleteStateMachine', arn)];
    const logging = p.LoggingConfiguration !== undefined && changed(change, 'LoggingConfiguration') ? [check('logs:CreateLogDelivery', '*')] : [];
    return [check(change.action === 'create' ? 'states:CreateStateMachine' : 'states:UpdateStateMachine', arn), ...passRole(p.RoleArn, 'states.amazonaws.com'), ...logging];
  },
  'AWS::KMS::Key'(change, scope) {
    const arn = change.action === 'create' ? '*' : `arn:aws:kms:${scope.region}:${scope.accountId}:key/${physicalId(change)}`;
    if (change.action === 'delete') return [check('kms:ScheduleKeyDeletion', arn)];
    if (change.action === 'create') return [check('kms:CreateKey', '*')];
    return [
      ...(changed(change, 'KeyPolicy') ? [check('kms:PutKeyPolicy', arn)] : []),
      ...(changed(change, 'EnableKeyRotation') ? [check(change.resource.properties.EnableKeyRotation === true ? 'kms:EnableKeyRotation' : 'kms:DisableKeyRotation', arn)] : []),
    ];
  },
  'AWS::KMS::Alias'(change, scope) {
    const alias = `arn:aws:kms:${scope.region}:${scope.accountId}:${String(change.resource.properties.AliasName)}`;
    const key = String(change.resource.properties.TargetKeyId);
    const keyArn = key.startsWith('arn:') ? key : `arn:aws:kms:${scope.region}:${scope.accountId}:key/${key}`;
    const action = { create: 'kms:CreateAlias', update: 'kms:UpdateAlias', delete: 'kms:DeleteAlias' }[change.action];
    return [check(action, alias), check(action, keyArn)];
  },
  'AWS::SQS::Queue'(change, scope) {
    const arn = `arn:aws:sqs:${scope.region}:${scope.accountId}:${change.resource.physicalName}`;
    return [check(change.action === 'create' ? 'sqs:CreateQueue' : change.action === 'update' ? 'sqs:SetQueueAttributes' : 'sqs:DeleteQueue', arn)];
  },
  'AWS::SQS::QueuePolicy'(change, scope) {
    return ((change.resource.properties.Queues ?? []) as string[]).map((url) =>
      check('sqs:SetQueueAttributes', `arn:aws:sqs:${scope.region}:${scope.accountId}:${String(url).split('/').pop() as string}`),
    );
  },
  'AWS::XRay::Group'(change, scope) {
    const action = { create: 'xray:CreateGroup', update: 'xray:UpdateGroup', delete: 'xray:DeleteGroup' }[change.action];
    return [check(action, `arn:aws:xray:${scope.region}:${scope.accountId}:group/${physicalId(change)}/*`)];
  },
  'AWS::XRay::SamplingRule'(change, scope) {
    const action = { create: 'xray:CreateSamplingRule', update: 'xray:UpdateSamplingRule', delete: 'xray:DeleteSamplingRule' }[change.action];
    return [check(action, `arn:aws:xray:${scope.region}:${scope.accountId}:sampling-rule/${physicalId(change)}`)];
  },
  'AWS::CDK::Metadata': () => [],
};

/** A REST API's sub-resource created by POST on its collection and deleted by DELETE on itself. */
function apiChild(collection: string): Checks {
  return (change, scope) => {
    const base = `/restapis/${String(change.resource.properties.RestApiId)}/${collection}`;
    if (change.action === 'create') return [check('apigateway:POST', apiArn(scope, base))];
    return [check(change.action === 'update' ? 'apigateway:PATCH' : 'apigateway:DELETE', apiArn(scope, `${base}/${physicalId(change)}`))];
  };
}

/** CloudFormation invokes a custom resource's provider function with the stack's credentials. */
function customResource(change: ResourceChange, scope: ProvisioningScope): Check[] {
  return [check('lambda:InvokeFunction', lambdaTarget(scope, change.resource.properties.ServiceToken))];
}

/** The stack's tags (and the template's) go onto the resource with its service's tagging call. */
function tagChecks(change: ResourceChange, scope: ProvisioningScope): Check[] {
  const id = physicalId(change);
  const arn: Readonly<Record<string, () => [string, string]>> = {
    'AWS::Lambda::Function': () => ['lambda:TagResource', lambdaArn(scope, id)],
    'AWS::IAM::Role': () => ['iam:TagRole', roleArnOf(scope, id)],
    'AWS::Logs::LogGroup': () => ['logs:TagResource', `arn:aws:logs:${scope.region}:${scope.accountId}:log-group:${id}`],
    'AWS::SNS::Topic': () => ['sns:TagResource', id.startsWith('arn:') ? id : `arn:aws:sns:${scope.region}:${scope.accountId}:${id}`],
    'AWS::S3::Bucket': () => ['s3:PutBucketTagging', `arn:aws:s3:::${id}`],
    'AWS::DynamoDB::Table': () => ['dynamodb:TagResource', `arn:aws:dynamodb:${scope.region}:${scope.accountId}:table/${id}`],
    'AWS::Events::Rule': () => ['events:TagResource', `arn:aws:events:${scope.region}:${scope.accountId}:rule/${id}`],
    'AWS::StepFunctions::StateMachine': () => ['states:TagResource', id.startsWith('arn:') ? id : `arn:aws:states:${scope.region}:${scope.accountId}:stateMachine:${id}`],
    'AWS::KMS::Key': () => ['kms:TagResource', id.startsWith('arn:') || change.action === 'create' ? '*' : `arn:aws:kms:${scope.region}:${scope.accountId}:key/${id}`],
    'AWS::SQS::Queue': () => ['sqs:TagQueue', `arn:aws:sqs:${scope.region}:${scope.accountId}:${change.resource.physicalName}`],
    'AWS::CloudWatch::Alarm': () => ['cloudwatch:TagResource', `arn:aws:cloudwatch:${scope.region}:${scope.accountId}:alarm:${id}`],
  };
  const found = arn[change.resource.type];
  if (!found) return [];
  const [action, resource] = found();
  return [check(action, resource)];
}
