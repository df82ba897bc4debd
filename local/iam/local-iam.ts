// IAM for the local runtime, in one place: the model of every running stack's permissions (kept up to date by
// the local CloudFormation, followStack), the identities the functions and services act as, the authorizer,
// and the checks each local service makes before it acts — the gateways in front of S3 and DynamoDB, the
// Lambda, CloudFormation and API Gateway APIs, CloudFormation's resource handlers (as the stack's service
// role), SNS publishes (by the state machine, by CloudWatch alarms), the state machine's Task calls,
// EventBridge targets, API Gateway's invocations, and what Lambda, Step Functions and stream mappings check of
// the roles they are given.
import type { IncomingHttpHeaders } from 'node:http';
import type { LocalService } from '../aws-services';
import type { CloudFormationCall, CloudFormationRefusal } from '../cloudformation/api';
import type { ResourceChange, StackState } from '../cloudformation/stacks';
import type { RuleDefinition, RuleTarget } from '../eventbridge';
import type { LocalFaults } from '../faults';
import type { PermissionStatement } from '../lambda-service';
import type { TaskBindings } from '../state-machine-runner';
import { AccessDeniedError, Authorizer, describe, type AccessRequest, type Caller, type Decision } from './authorizer';
import { startDynamoDbGateway } from './dynamodb-gateway';
import { IamModel, stackResources } from './iam-model';
import { accessKeyIdOf, administrator, LocalIdentities, roleSession, type LocalCredentials } from './identities';
import { provisioningChecks } from './provisioning';
import { kmsChecks, s3Checks, startS3Gateway } from './s3-gateway';

export interface LocalIamOptions {
  readonly region: string;
  readonly accountId: string;
  /** A function's resource-based policy as the local Lambda holds it (LocalLambdaService.policy). */
  readonly functionPolicy?: (functionName: string, qualifier: string | undefined) => readonly PermissionStatement[];
  /** Where denials are printed. @default console.log */
  readonly print?: (text: string) => void;
}

/** A request an API refuses before it acts (unknown key, denied action). */
export interface ApiRefusal {
  readonly status: number;
  readonly type: string;
  readonly message: string;
}

/** The session name CloudFormation's service-role sessions carry locally. */
const CLOUDFORMATION_SESSION = 'AWSCloudFormation';

export class LocalIam {
  readonly model: IamModel;
  readonly identities: LocalIdentities;
  readonly authorizer: Authorizer;
  private readonly print: (text: string) => void;

  constructor(private readonly options: LocalIamOptions) {
    this.model = new IamModel({ region: options.region, accountId: options.accountId, ...(options.functionPolicy ? { functionPolicy: options.functionPolicy } : {}) });
    this.identities = new LocalIdentities(options.accountId);
    this.print = options.print ?? ((text) => console.log(text));
    this.authorizer = new Authorizer({ model: this.model, accountId: options.accountId, print: this.print });
  }

  /**
   * The local CloudFormation's listener (onResourcesChanged): a stack's permissions are what its resources are
   * now, from the first resource created to the last one deleted; a deleted stack has none.
   */
  followStack(stack: StackState): void {
    if (stack.status === 'DELETE_COMPLETE') this.model.removeStack(stack.stackName);
    else this.model.addStack(stack.stackName, stackResources(Object.values(stack.resources)));
  }

  /** The caller a function's code is: a session of its execution role named like the function. */
  functionCaller(functionName: string): Caller {
    const roleArn = this.model.functionRole(functionName) ?? `arn:aws:iam::${this.options.accountId}:role/no-role-for-${functionName}`;
    return roleSession(roleArn, functionName);
  }

  /** The credentials a function's SDK clients sign with (its worker's AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). */
  functionCredentials(functionName: string): LocalCredentials {
    const caller = this.functionCaller(functionName) as Extract<Caller, { kind: 'role' }>;
    return this.identities.issue(caller.roleArn, functionName);
  }

  /**
   * Gateways that check every request to S3 and DynamoDB before it reaches the local servers; the calls they
   * allow meet the injected `faults`, if any.
   */
  async startGateways(options: {
    readonly s3: string;
    readonly dynamodb: string;
    readonly host: string;
    readonly faults?: LocalFaults;
  }): Promise<{ s3: LocalService; dynamodb: LocalService }> {
    const common = {
      host: options.host,
      region: this.options.region,
      accountId: this.options.accountId,
      identities: this.identities,
      authorizer: this.authorizer,
      ...(options.faults ? { faults: options.faults } : {}),
    };
    const s3 = await startS3Gateway({ ...common, target: options.s3, model: this.model });
    try {
      return { s3, dynamodb: await startDynamoDbGateway({ ...common, target: options.dynamodb }) };
    } catch (error) {
      await s3.close();
      throw error;
    }
  }

  /**
   * The Lambda API's check: the caller from the request's signature, the action on the function (qualified for
   * an alias or version, as Lambda authorizes it).
   */
  async lambdaApiRefusal(headers: IncomingHttpHeaders, action: string, functionArn: string): Promise<ApiRefusal | undefined> {
    const caller = this.signer(headers);
    if (!caller) return { status: 403, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
    const decision = await this.authorizer.decide({ caller, action: `lambda:${action}`, resource: functionArn });
    return decision.allowed ? undefined : { status: 403, type: 'AccessDeniedException', message: new AccessDeniedError(decision).message };
  }

  /** The API Gateway API's check: `apigateway:<METHOD>` on the path's ARN, as API Gateway authorizes its REST API. */
  async apiGatewayApiRefusal(headers: IncomingHttpHeaders, method: string, path: string): Promise<ApiRefusal | undefined> {
    const caller = this.signer(headers);
    if (!caller) return { status: 403, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
    const decision = await this.authorizer.decide({ caller, action: `apigateway:${method}`, resource: `arn:aws:apigateway:${this.options.region}::${path}` });
    return decision.allowed ? undefined : { status: 403, type: 'AccessDeniedException', message: new AccessDeniedError(decision).message };
  }

  /**
   * The CloudFormation API's check, before the call acts: `cloudformation:<Action>` on the stack; for a call
   * that passes a service role (RoleARN), iam:PassRole on it to CloudFormation, and the role's trust policy
   * letting CloudFormation assume it.
   */
  async cloudFormationRefusal(headers: IncomingHttpHeaders, call: CloudFormationCall): Promise<CloudFormationRefusal | undefined> {
    const caller = this.signer(headers);
    if (!caller) return { status: 403, code: 'InvalidClientTokenId', message: 'The security token included in the request is invalid.' };
    const denied = (decision: Decision): CloudFormationRefusal => ({ status: 403, code: 'AccessDenied', message: new AccessDeniedError(decision).message });
    const action = await this.authorizer.decide({ caller, action: `cloudformation:${call.action}`, resource: call.stackArn });
    if (!action.allowed) return denied(action);
    if (call.roleArn === undefined) return undefined;
    const pass = await this.authorizer.decide({ caller, action: 'iam:PassRole', resource: call.roleArn, context: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } });
    if (!pass.allowed) return denied(pass);
    const assume = await this.authorizer.decide({ caller: this.service('cloudformation.amazonaws.com'), action: 'sts:AssumeRole', resource: call.roleArn });
    if (!assume.allowed) return { status: 400, code: 'ValidationError', message: `Role ${call.roleArn} is invalid or cannot be assumed (local IAM: ${assume.explanation})` };
    return undefined;
  }

  /**
   * The local CloudFormation's check of each resource change (authorizeResource): what the resource's service
   * checks of the role it is given (Lambda, Step Functions, stream mappings, a role's boundary), then the calls
   * of the type's handler, made as the stack's service role — or as the caller when the stack has none. A
   * refusal fails the resource, its message the reason CloudFormation reports.
   */
  async authorizeResourceChange(change: ResourceChange): Promise<void> {
    if (change.action !== 'delete') await this.serviceChecks(change);
    const caller = change.stack.roleArn
      ? roleSession(change.stack.roleArn, CLOUDFORMATION_SESSION)
      : ((change.requestedBy === undefined ? undefined : this.identities.callerOf(change.requestedBy)) ?? administrator(this.options.accountId));
    // The operator may do anything: no call of theirs is refused but by a resource policy's Deny, which no handler call meets.
    if (caller.kind === 'admin') return;
    const checks = provisioningChecks(change, { region: this.options.region, accountId: this.options.accountId, model: this.model });
    if (!checks) {
      throw new Error(
        `the local runtime does not know which calls CloudFormation makes to ${change.action} a ${change.resource.type} (docs/local-runtime.md), so it does not do it as ${caller.principal}`,
      );
    }
    const denial = await this.authorizer.firstDenial(checks.map((c) => ({ ...c, caller })));
    if (denial) {
      const service = denial.request.action.split(':')[0] as string;
      throw new AccessDeniedError(
        denial,
        'AccessDenied',
        `Resource handler returned message: "${denial.awsMessage} (Service: ${service}, Status Code: 403)" (HandlerErrorCode: AccessDenied) (local IAM: ${denial.explanation})`,
      );
    }
  }

  /**
   * sns:Publish by `caller`: the topic policy and the caller's policies, and for a topic encrypted with a KMS key
   * kms:GenerateDataKey* and kms:Decrypt on that key (SNS uses it on the publisher's behalf). Throws the error
   * the publisher sees: SNS's AuthorizationError or KMSAccessDenied; for CloudWatch, what the alarm history says.
   */
  async authorizePublish(caller: Caller, topicArn: string): Promise<void> {
    const publish = await this.authorizer.decide({ caller, action: 'sns:Publish', resource: topicArn });
    if (!publish.allowed) {
      if (caller.kind === 'service')
        throw new AccessDeniedError(
          publish,
          'AuthorizationError',
          `Resource: ${caller.sourceArn} is not authorized to perform: SNS:Publish on resource: ${topicArn} (local IAM: ${publish.explanation})`,
        );
      throw new AccessDeniedError(publish, 'SNS.AuthorizationErrorException');
    }
    const key = this.model.topicKey(topicArn);
    if (!key) return;
    const keyDenial =
      key.keyArn === 'aws-managed'
        ? caller.kind === 'service'
          ? managedKeyDenial(caller, topicArn)
          : undefined
        : await this.authorizer.firstDenial(
            ['kms:GenerateDataKey', 'kms:Decrypt'].map((action) => ({
              caller,
              action,
              resource: key.keyArn,
              context: {
                'kms:ViaService': `sns.${this.options.region}.amazonaws.com`,
                'kms:CallerAccount': this.options.accountId,
                'kms:EncryptionContext:aws:sns:topicArn': topicArn,
              },
            })),
          );
    if (!keyDenial) return;
    if (caller.kind === 'service') {
      throw new AccessDeniedError(
        keyDenial,
        'KMSAccessDenied',
        `CloudWatch Alarms does not have authorization to access the SNS topic encryption key. (local IAM: ${describe(keyDenial.request)}: ${keyDenial.explanation})`,
      );
    }
    throw new AccessDeniedError(
      keyDenial,
      'SNS.KMSAccessDeniedException',
      `The ciphertext references a key that doesn't exist or that you don't have access to. (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; ${keyDenial.awsMessage}) (local IAM: ${keyDenial.explanation})`,
    );
  }

  /**
   * The state machine's Task bindings, each call checked against the state machine's role first, failing as
   * the Task would on AWS (Lambda.AWSLambdaException, SNS.*, CloudWatch.AccessDeniedException, ApiGateway.*).
   */
  guardTaskBindings(stateMachineArn: string, bindings: TaskBindings): TaskBindings {
    // Read at each call: the machine's role may change with its stack. Step Functions names the session after
    // nothing the definition sees; one name per machine is enough.
    const machineName = stateMachineArn.split(':').pop() as string;
    const callerNow = () => roleSession(this.model.stateMachineRole(stateMachineArn) ?? `arn:aws:iam::${this.options.accountId}:role/no-role-for-${machineName}`, machineName);
    const require = async (request: Omit<AccessRequest, 'caller'>, errorName: string, service: string) => {
      const decision = await this.authorizer.decide({ ...request, caller: callerNow() });
      if (!decision.allowed)
        throw new AccessDeniedError(
          decision,
          errorName,
          `${decision.awsMessage} (Service: ${service}; Status Code: 403; Error Code: AccessDeniedException) (local IAM: ${decision.explanation})`,
        );
    };
    return {
      lambda: async (functionArn, payload) => {
        await require({ action: 'lambda:InvokeFunction', resource: functionArn }, 'Lambda.AWSLambdaException', 'AWSLambda');
        return bindings.lambda(functionArn, payload);
      },
      ...(bindings.snsPublish
        ? {
            snsPublish: async (parameters) => {
              await this.authorizePublish(callerNow(), parameters.TopicArn);
              return (bindings.snsPublish as NonNullable<TaskBindings['snsPublish']>)(parameters);
            },
          }
        : {}),
      ...(bindings.s3
        ? {
            s3: {
              getObject: async (bucket, key) => {
                for (const check of this.s3ObjectChecks('GET', bucket, key)) await require(check, 'States.ItemReaderFailed', 'Amazon S3');
                return (bindings.s3 as NonNullable<TaskBindings['s3']>).getObject(bucket, key);
              },
              putObject: async (bucket, key, body) => {
                for (const check of this.s3ObjectChecks('PUT', bucket, key)) await require(check, 'States.ResultWriterFailed', 'Amazon S3');
                return (bindings.s3 as NonNullable<TaskBindings['s3']>).putObject(bucket, key, body);
              },
            },
          }
        : {}),
      ...(bindings.awsSdk
        ? {
            awsSdk: async (service, action, parameters) => {
              for (const check of sdkChecks(service, action, parameters, this.options.region, this.options.accountId)) {
                await require(check, `${sdkServiceName(service)}.AccessDeniedException`, sdkServiceName(service));
              }
              return (bindings.awsSdk as NonNullable<TaskBindings['awsSdk']>)(service, action, parameters);
            },
          }
        : {}),
    };
  }

  /** What S3 checks for a GetObject / PutObject of the Map's ItemReader and ResultWriter: the object action and, with a KMS-encrypted bucket, the key. */
  private s3ObjectChecks(method: 'GET' | 'PUT', bucket: string, key: string): Omit<AccessRequest, 'caller'>[] {
    const query = new URLSearchParams();
    return [...s3Checks(method, bucket, key, query, {}), ...kmsChecks(method, bucket, key, query, {}, this.model, this.options.region, this.options.accountId)];
  }

  /**
   * An EventBridge rule's delivery to a target: with the target's role (RoleArn) when it has one — which must
   * trust events.amazonaws.com for this rule — else as events.amazonaws.com against the target's resource
   * policy (a function's permission). A refusal fails the delivery, as FailedInvocations do on AWS.
   */
  async authorizeRuleTarget(rule: RuleDefinition, target: RuleTarget): Promise<void> {
    const ruleArn = `arn:aws:events:${this.options.region}:${this.options.accountId}:rule/${rule.logicalId}`;
    const events = this.service('events.amazonaws.com', ruleArn);
    if (target.roleArn) {
      const assume = await this.authorizer.decide({ caller: events, action: 'sts:AssumeRole', resource: target.roleArn });
      if (!assume.allowed) throw new AccessDeniedError(assume);
    }
    const caller = target.roleArn ? roleSession(target.roleArn, rule.logicalId) : events;
    const action = target.arn.includes(':states:') ? 'states:StartExecution' : target.arn.includes(':lambda:') ? 'lambda:InvokeFunction' : undefined;
    if (!action) return;
    const decision = await this.authorizer.decide({ caller, action, resource: target.arn });
    if (!decision.allowed) throw new AccessDeniedError(decision);
  }

  /** API Gateway invoking a route's function: the function's (or alias's) resource policy must let apigateway.amazonaws.com in from the method's execute-api ARN. */
  async apiGatewayMayInvoke(functionName: string, qualifier: string | undefined, sourceArn: string): Promise<boolean> {
    const resource = `arn:aws:lambda:${this.options.region}:${this.options.accountId}:function:${functionName}${qualifier ? `:${qualifier}` : ''}`;
    return (await this.authorizer.decide({ caller: this.service('apigateway.amazonaws.com', sourceArn), action: 'lambda:InvokeFunction', resource })).allowed;
  }

  /**
   * What a resource's own service checks of the role it is given, whoever creates it: Lambda that it may
   * assume a function's role, Step Functions a state machine's, Lambda that a stream mapping's function may
   * read the stream, IAM that a role's permissions boundary exists. On AWS these fail the deployment too.
   */
  private async serviceChecks(change: ResourceChange): Promise<void> {
    const p = change.resource.properties;
    const refuse = (decision: Decision, message: string) => {
      throw new AccessDeniedError(decision, 'InvalidParameterValueException', `${message} (local IAM: ${describe(decision.request)}: ${decision.explanation})`);
    };
    if (change.resource.type === 'AWS::Lambda::Function' && typeof p.Role === 'string') {
      const decision = await this.authorizer.decide({ caller: this.service('lambda.amazonaws.com'), action: 'sts:AssumeRole', resource: p.Role });
      if (!decision.allowed) refuse(decision, 'The role defined for the function cannot be assumed by Lambda.');
    }
    if (change.resource.type === 'AWS::StepFunctions::StateMachine' && typeof p.RoleArn === 'string') {
      const machineArn = `arn:aws:states:${this.options.region}:${this.options.accountId}:stateMachine:${change.resource.physicalName}`;
      const decision = await this.authorizer.decide({ caller: this.service('states.amazonaws.com', machineArn), action: 'sts:AssumeRole', resource: p.RoleArn });
      if (!decision.allowed) refuse(decision, 'Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.');
    }
    if (change.resource.type === 'AWS::Lambda::EventSourceMapping' && change.action === 'create' && String(p.EventSourceArn ?? '').includes(':dynamodb:')) {
      const streamArn = String(p.EventSourceArn);
      const target = String(p.FunctionName);
      const caller = this.functionCaller(/^arn:aws:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(target)?.[1] ?? (target.split(':')[0] as string));
      const denial = await this.authorizer.firstDenial([
        ...['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'].map((action) => ({ caller, action, resource: streamArn })),
        { caller, action: 'dynamodb:ListStreams', resource: '*' },
      ]);
      if (denial)
        refuse(
          denial,
          `Cannot access stream ${streamArn}. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.`,
        );
    }
    if (
      change.resource.type === 'AWS::IAM::Role' &&
      typeof p.PermissionsBoundary === 'string' &&
      p.PermissionsBoundary.startsWith(`arn:aws:iam::${this.options.accountId}:policy/`) &&
      !this.model.managedPolicy(p.PermissionsBoundary)
    ) {
      throw Object.assign(new Error(`Scope ARN: ${p.PermissionsBoundary} does not exist or is not attachable.`), { name: 'NoSuchEntity' });
    }
  }

  /** The caller a request's SigV4 signature names; undefined for a key the runtime never issued. */
  private signer(headers: IncomingHttpHeaders): Caller | undefined {
    const accessKeyId = accessKeyIdOf(headers);
    return accessKeyId === undefined ? undefined : this.identities.callerOf(accessKeyId);
  }

  private service(principal: string, sourceArn?: string): Caller {
    return { kind: 'service', principal, ...(sourceArn ? { sourceArn } : {}), sourceAccount: this.options.accountId };
  }
}

/** CloudWatch cannot use an AWS managed key (alias/aws/sns): its key policy admits only principals of the account. */
function managedKeyDenial(caller: Caller, topicArn: string): Decision {
  const request: AccessRequest = { caller, action: 'kms:GenerateDataKey', resource: `aws/sns key of ${topicArn}` };
  return {
    allowed: false,
    request,
    awsMessage: '',
    explanation: 'the topic is encrypted with the AWS managed key alias/aws/sns, whose policy no service principal can be added to',
  };
}

/** The IAM checks of an `aws-sdk:<service>:<action>` Task (the service's own authorization of that API). */
function sdkChecks(service: string, action: string, parameters: Record<string, unknown>, region: string, accountId: string): Omit<AccessRequest, 'caller'>[] {
  const iamAction = `${service}:${action.charAt(0).toUpperCase()}${action.slice(1)}`;
  if (service === 'cloudwatch') {
    const alarm = (name: string) => `arn:aws:cloudwatch:${region}:${accountId}:alarm:${name}`;
    if (typeof parameters.AlarmName === 'string') return [{ action: iamAction, resource: alarm(parameters.AlarmName) }];
    if (Array.isArray(parameters.AlarmNames)) return parameters.AlarmNames.map((name) => ({ action: iamAction, resource: alarm(String(name)) }));
    // DescribeAlarms by prefix: authorized against the alarms the prefix can name.
    if (typeof parameters.AlarmNamePrefix === 'string') return [{ action: iamAction, resource: alarm(`${parameters.AlarmNamePrefix}*`) }];
    return [{ action: iamAction, resource: alarm('*') }];
  }
  // Step Functions' IAM prefix is states; DescribeExecution is authorized on the execution.
  if (service === 'sfn')
    return [{ action: `states:${action.charAt(0).toUpperCase()}${action.slice(1)}`, resource: String(parameters.ExecutionArn ?? parameters.StateMachineArn ?? '*') }];
  // API Gateway authorizes its REST API by HTTP method on the path: CreateDeployment is a POST to the API's deployments.
  if (service === 'apigateway' && action === 'createDeployment') {
    return [{ action: 'apigateway:POST', resource: `arn:aws:apigateway:${region}::/restapis/${String(parameters.RestApiId)}/deployments` }];
  }
  return [{ action: iamAction, resource: '*' }];
}

function sdkServiceName(service: string): string {
  return { cloudwatch: 'CloudWatch', sns: 'SNS', lambda: 'Lambda', dynamodb: 'DynamoDb', s3: 'S3', apigateway: 'ApiGateway', sfn: 'Sfn' }[service] ?? service;
}
