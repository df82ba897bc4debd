// IAM for the local runtime, in one place: the model of every running stack's permissions, the identities the
// functions and services act as, the authorizer, and the checks each local service makes before it acts — the
// gateways in front of S3 and DynamoDB, the Lambda API, SNS publishes (by the state machine, by CloudWatch
// alarms), the state machine's Task calls, EventBridge targets, API Gateway's invocations, stream mappings.
import type { IncomingHttpHeaders } from 'node:http';
import type { LocalService } from '../aws-services';
import type { TaskBindings } from '../state-machine-runner';
import { AccessDeniedError, Authorizer, describe, type AccessRequest, type Caller, type Decision } from './authorizer';
import { startDynamoDbGateway } from './dynamodb-gateway';
import { IamModel, type StackResource } from './iam-model';
import { accessKeyIdOf, LocalIdentities, roleSession, type LocalCredentials } from './identities';
import { startS3Gateway } from './s3-gateway';

export interface LocalIamOptions {
  readonly region: string;
  readonly accountId: string;
  /** Where denials are printed. @default console.log */
  readonly print?: (text: string) => void;
}

/** A request the Lambda API refuses before it acts (unknown key, denied action). */
export interface ApiRefusal {
  readonly status: number;
  readonly type: string;
  readonly message: string;
}

export class LocalIam {
  readonly model: IamModel;
  readonly identities: LocalIdentities;
  readonly authorizer: Authorizer;
  private readonly print: (text: string) => void;

  constructor(private readonly options: LocalIamOptions) {
    this.model = new IamModel(options);
    this.identities = new LocalIdentities(options.accountId);
    this.print = options.print ?? ((text) => console.log(text));
    this.authorizer = new Authorizer({ model: this.model, accountId: options.accountId, print: this.print });
  }

  /** Adds (or replaces) a stack's resources, resolved to local names and ARNs (stackResourcesFromTemplate). */
  addStack(stackName: string, resources: Readonly<Record<string, StackResource>>): void {
    this.model.addStack(stackName, resources);
  }

  removeStack(stackName: string): void {
    this.model.removeStack(stackName);
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

  /** Gateways that check every request to S3 and DynamoDB before it reaches the local servers. */
  async startGateways(options: { readonly s3: string; readonly dynamodb: string; readonly host: string }): Promise<{ s3: LocalService; dynamodb: LocalService }> {
    const common = { host: options.host, region: this.options.region, accountId: this.options.accountId, identities: this.identities, authorizer: this.authorizer };
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
    const accessKeyId = accessKeyIdOf(headers);
    const caller = accessKeyId === undefined ? undefined : this.identities.callerOf(accessKeyId);
    if (!caller) return { status: 403, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
    const decision = await this.authorizer.decide({ caller, action: `lambda:${action}`, resource: functionArn });
    return decision.allowed ? undefined : { status: 403, type: 'AccessDeniedException', message: new AccessDeniedError(decision).message };
  }

  /**
   * sns:Publish by `caller`: the topic policy and the caller's policies, and for a topic encrypted with a KMS key
   * kms:GenerateDataKey* and kms:Decrypt on that key (SNS uses it on the publisher's behalf). Throws the error
   * the publisher sees: SNS's AuthorizationError or KMSAccessDenied; for CloudWatch, what the alarm history says.
   */
  async authorizePublish(caller: Caller, topicArn: string): Promise<void> {
    const publish = await this.authorizer.decide({ caller, action: 'sns:Publish', resource: topicArn });
    if (!publish.allowed) {
      if (caller.kind === 'service') throw new AccessDeniedError(publish, 'AuthorizationError', `Resource: ${caller.sourceArn} is not authorized to perform: SNS:Publish on resource: ${topicArn} (local IAM: ${publish.explanation})`);
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
              context: { 'kms:ViaService': `sns.${this.options.region}.amazonaws.com`, 'kms:CallerAccount': this.options.accountId, 'kms:EncryptionContext:aws:sns:topicArn': topicArn },
            })),
          );
    if (!keyDenial) return;
    if (caller.kind === 'service') {
      throw new AccessDeniedError(keyDenial, 'KMSAccessDenied', `CloudWatch Alarms does not have authorization to access the SNS topic encryption key. (local IAM: ${describe(keyDenial.request)}: ${keyDenial.explanation})`);
    }
    throw new AccessDeniedError(
      keyDenial,
      'SNS.KMSAccessDeniedException',
      `The ciphertext references a key that doesn't exist or that you don't have access to. (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; ${keyDenial.awsMessage}) (local IAM: ${keyDenial.explanation})`,
    );
  }

  /**
   * The state machine's Task bindings, each call checked against the state machine's role first, failing as
   * the Task would on AWS (Lambda.AWSLambdaException, SNS.*, CloudWatch.AccessDeniedException).
   */
  guardTaskBindings(stateMachineArn: string, bindings: TaskBindings): TaskBindings {
    // Read at each call: the machine's stack may be added after its bindings are made. Step Functions names the
    // session after nothing the definition sees; one name per machine is enough.
    const machineName = stateMachineArn.split(':').pop() as string;
    const callerNow = () => roleSession(this.model.stateMachineRole(stateMachineArn) ?? `arn:aws:iam::${this.options.accountId}:role/no-role-for-${machineName}`, machineName);
    const require = async (request: Omit<AccessRequest, 'caller'>, errorName: string, service: string) => {
      const decision = await this.authorizer.decide({ ...request, caller: callerNow() });
      if (!decision.allowed) throw new AccessDeniedError(decision, errorName, `${decision.awsMessage} (Service: ${service}; Status Code: 403; Error Code: AccessDeniedException) (local IAM: ${decision.explanation})`);
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

  /**
   * An EventBridge rule's delivery to a target: with the target's role (RoleArn) when it has one, else as
   * events.amazonaws.com against the target's resource policy (a function's AWS::Lambda::Permission).
   */
  async authorizeRuleTarget(ruleLogicalId: string, targetId: string, targetArn: string): Promise<void> {
    const ruleArn = this.model.ruleArn(ruleLogicalId) ?? `arn:aws:events:${this.options.region}:${this.options.accountId}:rule/${ruleLogicalId}`;
    const target = this.model.ruleTargets(ruleArn).find((t) => t.id === targetId);
    const caller: Caller = target?.roleArn
      ? roleSession(target.roleArn, ruleLogicalId)
      : { kind: 'service', principal: 'events.amazonaws.com', sourceArn: ruleArn, sourceAccount: this.options.accountId };
    const action = targetArn.includes(':states:') ? 'states:StartExecution' : targetArn.includes(':lambda:') ? 'lambda:InvokeFunction' : undefined;
    if (!action) return;
    const decision = await this.authorizer.decide({ caller, action, resource: targetArn });
    if (!decision.allowed) throw new AccessDeniedError(decision);
  }

  /** API Gateway invoking a function for a route: the function's resource policy must let apigateway.amazonaws.com in for that method and path. */
  async authorizeApiInvoke(invocation: { readonly restApiId: string; readonly stage: string; readonly method: string; readonly path: string; readonly functionArn: string }): Promise<void> {
    const sourceArn = `arn:aws:execute-api:${this.options.region}:${this.options.accountId}:${invocation.restApiId}/${invocation.stage}/${invocation.method}${invocation.path}`;
    const caller: Caller = { kind: 'service', principal: 'apigateway.amazonaws.com', sourceArn, sourceAccount: this.options.accountId };
    const decision = await this.authorizer.decide({ caller, action: 'lambda:InvokeFunction', resource: invocation.functionArn });
    if (!decision.allowed) throw new AccessDeniedError(decision, 'AccessDeniedException', `Execution failed due to configuration error: Invalid permissions on Lambda function (local IAM: ${decision.explanation})`);
  }

  /**
   * What Lambda, Step Functions and EventBridge check when a function, a state machine or a rule target is
   * created: the service may assume the role (its trust policy). On AWS the deploy fails otherwise ("The role
   * defined for the function cannot be assumed by Lambda."); here the runtime does not start.
   */
  async checkRoleTrust(): Promise<void> {
    for (const assumption of this.model.assumedRoles()) {
      const caller: Caller = { kind: 'service', principal: assumption.service, ...(assumption.sourceArn ? { sourceArn: assumption.sourceArn } : {}), sourceAccount: this.options.accountId };
      const decision = await this.authorizer.decide({ caller, action: 'sts:AssumeRole', resource: assumption.roleArn });
      if (!decision.allowed) {
        throw new AccessDeniedError(decision, 'InvalidParameterValueException', `${assumption.resource}: the role ${assumption.roleArn} cannot be assumed by ${assumption.service} (local IAM: ${decision.explanation})`);
      }
    }
  }

  /**
   * What Lambda checks when it creates an event source mapping on a DynamoDB stream: the function's role may
   * read the stream. On AWS the deploy fails otherwise; here the runtime does not start.
   */
  async checkStreamMapping(functionName: string, streamArn: string): Promise<void> {
    const caller = this.functionCaller(functionName);
    const checks = [
      ...['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'].map((action) => ({ caller, action, resource: streamArn })),
      { caller, action: 'dynamodb:ListStreams', resource: '*' },
    ];
    const denial = await this.authorizer.firstDenial(checks);
    if (denial) {
      throw new AccessDeniedError(
        denial,
        'InvalidParameterValueException',
        `Cannot access stream ${streamArn}. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM. (local IAM: ${describe(denial.request)}: ${denial.explanation})`,
      );
    }
  }
}

/** CloudWatch cannot use an AWS managed key (alias/aws/sns): its key policy admits only principals of the account. */
function managedKeyDenial(caller: Caller, topicArn: string): Decision {
  const request: AccessRequest = { caller, action: 'kms:GenerateDataKey', resource: `aws/sns key of ${topicArn}` };
  return { allowed: false, request, awsMessage: '', explanation: 'the topic is encrypted with the AWS managed key alias/aws/sns, whose policy no service principal can be added to' };
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
  return [{ action: iamAction, resource: '*' }];
}

function sdkServiceName(service: string): string {
  return { cloudwatch: 'CloudWatch', sns: 'SNS', lambda: 'Lambda', dynamodb: 'DynamoDb', s3: 'S3' }[service] ?? service;
}
