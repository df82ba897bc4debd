// What the templates say about permissions, as the local runtime resolves them: roles (trust, inline policies,
// the AWS::IAM::Policy resources attached to them), resource policies (bucket, topic and key policies, the
// AWS::Lambda::Permission resources of a function), the KMS keys behind encrypted buckets and topics, and who
// acts as whom (a function's role, a state machine's role, an EventBridge target's role). Stacks come and go
// at run time (the base stack, model stacks the pipeline adds and removes): each is added and removed whole,
// and every question is answered across all the stacks present.
import { createHash } from 'node:crypto';
import { resolveValue, TemplateError, type CfnTemplate, type ResolutionContext } from '../template';

export interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal?: unknown;
  readonly NotPrincipal?: unknown;
  readonly Action?: string | readonly string[];
  readonly NotAction?: string | readonly string[];
  readonly Resource?: string | readonly string[];
  readonly NotResource?: string | readonly string[];
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly PolicyStatement[];
}

/** A resource of a stack with its properties resolved to local names and ARNs, and what Ref and Fn::GetAtt Arn stand for. */
export interface StackResource {
  readonly type: string;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly ref?: string;
  readonly arn?: string;
}

export interface NamedPolicy {
  /** Where the policy comes from, as the console names it: `<stack>/<logical id>` (inline: `.../<PolicyName>`). */
  readonly name: string;
  readonly document: PolicyDocument;
}

export interface RoleModel {
  readonly arn: string;
  readonly name: string;
  readonly trust: PolicyDocument | undefined;
  readonly policies: readonly NamedPolicy[];
  /** AWS managed policies attached by ARN: their text is not known locally (docs/local-runtime.md). */
  readonly managedPolicyArns: readonly string[];
}

/** The KMS key that encrypts a bucket's objects or a topic's messages. */
export interface EncryptionKey {
  /** The key's ARN, or `aws-managed` for an AWS managed key (aws/s3, aws/sns). */
  readonly keyArn: string;
  /** S3 Bucket Keys: the encryption context is the bucket ARN, not the object's. */
  readonly bucketKey?: boolean;
}

export interface RuleTargetModel {
  readonly id: string;
  readonly arn: string;
  readonly roleArn?: string;
}

/** Types whose resources the model reads. */
export const IAM_RESOURCE_TYPES: ReadonlySet<string> = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::S3::Bucket',
  'AWS::S3::BucketPolicy',
  'AWS::SNS::Topic',
  'AWS::SNS::TopicPolicy',
  'AWS::KMS::Key',
  'AWS::Lambda::Function',
  'AWS::Lambda::Permission',
  'AWS::StepFunctions::StateMachine',
  'AWS::Events::Rule',
]);

const POLICY_PROPERTIES: Readonly<Record<string, readonly string[]>> = {
  'AWS::IAM::Role': ['AssumeRolePolicyDocument'],
  'AWS::IAM::Policy': ['PolicyDocument'],
  'AWS::S3::BucketPolicy': ['PolicyDocument'],
  'AWS::SNS::TopicPolicy': ['PolicyDocument'],
  'AWS::KMS::Key': ['KeyPolicy'],
};

/**
 * Names and ARNs the way AWS forms them for the resource types permissions are about, where the runtime's
 * generic `arn:aws:<service>:<region>:<account>:<name>` would not match a policy: IAM roles (global, `role/`),
 * KMS keys (`key/<id>`), EventBridge rules (`rule/<name>`), API Gateway stages (Ref is the stage name).
 */
export function registerIamIdentities(template: CfnTemplate, names: ReadonlyMap<string, string>, context: ResolutionContext): void {
  for (const [id, resource] of Object.entries(template.Resources)) {
    const name = names.get(id) as string;
    if (resource.Type === 'AWS::IAM::Role') {
      const declared = resource.Properties?.RoleName;
      const roleName = typeof declared === 'string' ? declared : name;
      const path = typeof resource.Properties?.Path === 'string' ? resource.Properties.Path : '/';
      context.refs.set(id, roleName);
      context.attributes.set(`${id}.Arn`, `arn:aws:iam::${context.accountId}:role${path}${roleName}`);
      context.attributes.set(`${id}.RoleId`, `AROA${digest(roleName, 17).toUpperCase()}`);
    } else if (resource.Type === 'AWS::KMS::Key') {
      const hex = digest(`${context.stackName}/${id}`, 32);
      const keyId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
      context.refs.set(id, keyId);
      context.attributes.set(`${id}.KeyId`, keyId);
      context.attributes.set(`${id}.Arn`, `arn:aws:kms:${context.region}:${context.accountId}:key/${keyId}`);
    } else if (resource.Type === 'AWS::Events::Rule') {
      context.attributes.set(`${id}.Arn`, `arn:aws:events:${context.region}:${context.accountId}:rule/${name}`);
    } else if (resource.Type === 'AWS::ApiGateway::Stage' && typeof resource.Properties?.StageName === 'string') {
      context.refs.set(id, resource.Properties.StageName);
    }
  }
}

/**
 * The template's resources the IAM model reads, resolved against the local context. A policy statement that
 * names something the runtime does not provide is left out (and reported): a missing Allow denies, as a
 * statement that does not apply would.
 */
export function stackResourcesFromTemplate(template: CfnTemplate, context: ResolutionContext, report: (problem: string) => void = () => undefined): Record<string, StackResource> {
  const resources: Record<string, StackResource> = {};
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (!IAM_RESOURCE_TYPES.has(resource.Type)) continue;
    const properties: Record<string, unknown> = {};
    const policyProperties = POLICY_PROPERTIES[resource.Type] ?? [];
    for (const [key, value] of Object.entries(resource.Properties ?? {})) {
      const path = `${id}.${key}`;
      try {
        properties[key] = policyProperties.includes(key) ? resolveDocument(value, context, path, report) : resolveValue(value, context, path);
      } catch (error) {
        if (!(error instanceof TemplateError)) throw error;
        report(`${path} is left out: ${error.message}`);
      }
    }
    const arn = context.attributes.get(`${id}.Arn`);
    const ref = context.refs.get(id);
    resources[id] = { type: resource.Type, properties, ...(ref !== undefined ? { ref } : {}), ...(arn !== undefined ? { arn } : {}) };
  }
  return resources;
}

function resolveDocument(value: unknown, context: ResolutionContext, path: string, report: (problem: string) => void): PolicyDocument {
  const document = value as { Version?: string; Statement?: unknown };
  const statements = Array.isArray(document.Statement) ? document.Statement : document.Statement === undefined ? [] : [document.Statement];
  const resolved: PolicyStatement[] = [];
  statements.forEach((statement, i) => {
    try {
      resolved.push(resolveValue(statement, context, `${path}.Statement[${i}]`) as PolicyStatement);
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      report(`${path}.Statement[${i}] is left out: ${error.message}`);
    }
  });
  return { ...(document.Version ? { Version: document.Version } : {}), Statement: resolved };
}

interface StackModel {
  readonly resources: ReadonlyMap<string, StackResource>;
}

/**
 * The permissions of every stack the runtime runs. `revision` changes whenever a stack is added or removed,
 * so decisions cached against it are never stale.
 */
export class IamModel {
  private readonly stacks = new Map<string, StackModel>();
  private changes = 0;

  constructor(private readonly options: { readonly region: string; readonly accountId: string }) {}

  get revision(): number {
    return this.changes;
  }

  /** Adds a stack, or replaces the stack of that name (an update). */
  addStack(stackName: string, resources: Readonly<Record<string, StackResource>>): void {
    this.stacks.set(stackName, { resources: new Map(Object.entries(resources)) });
    this.changes++;
  }

  removeStack(stackName: string): void {
    if (this.stacks.delete(stackName)) this.changes++;
  }

  /**
   * Every role a service assumes for a resource of the stacks: a function's execution role (Lambda), a state
   * machine's role (Step Functions, for that machine), an EventBridge target's role (for that rule).
   */
  assumedRoles(): { readonly roleArn: string; readonly service: string; readonly sourceArn?: string; readonly resource: string }[] {
    return [
      ...this.all('AWS::Lambda::Function')
        .filter(([, , fn]) => typeof fn.properties.Role === 'string')
        .map(([stack, id, fn]) => ({ roleArn: fn.properties.Role as string, service: 'lambda.amazonaws.com', resource: `${stack}/${id}` })),
      ...this.all('AWS::StepFunctions::StateMachine')
        .filter(([, , machine]) => typeof machine.properties.RoleArn === 'string')
        .map(([stack, id, machine]) => ({ roleArn: machine.properties.RoleArn as string, service: 'states.amazonaws.com', ...(machine.ref ? { sourceArn: machine.ref } : {}), resource: `${stack}/${id}` })),
      ...this.all('AWS::Events::Rule').flatMap(([stack, id, rule]) =>
        this.ruleTargets(rule.arn ?? '').flatMap((t) => (t.roleArn ? [{ roleArn: t.roleArn, service: 'events.amazonaws.com', ...(rule.arn ? { sourceArn: rule.arn } : {}), resource: `${stack}/${id}/${t.id}` }] : [])),
      ),
    ];
  }

  /** A role by ARN, with every policy attached to it from any stack. */
  role(roleArn: string): RoleModel | undefined {
    for (const [stackName, id, resource] of this.all('AWS::IAM::Role')) {
      if (resource.arn !== roleArn) continue;
      const name = resource.ref ?? roleArn.split('/').pop() ?? roleArn;
      const inline = ((resource.properties.Policies ?? []) as { PolicyName: string; PolicyDocument: PolicyDocument }[]).map((p) => ({
        name: `${stackName}/${id}/${p.PolicyName}`,
        document: p.PolicyDocument,
      }));
      const attached = this.all('AWS::IAM::Policy')
        .filter(([, , policy]) => ((policy.properties.Roles ?? []) as string[]).some((role) => role === name || role === roleArn))
        .map(([policyStack, policyId, policy]) => ({ name: `${policyStack}/${policyId}`, document: policy.properties.PolicyDocument as PolicyDocument }));
      return {
        arn: roleArn,
        name,
        trust: resource.properties.AssumeRolePolicyDocument as PolicyDocument | undefined,
        policies: [...inline, ...attached],
        managedPolicyArns: ((resource.properties.ManagedPolicyArns ?? []) as string[]).map(String),
      };
    }
    return undefined;
  }

  /** The execution role ARN of a function, by function name. */
  functionRole(functionName: string): string | undefined {
    const found = this.all('AWS::Lambda::Function').find(([, , fn]) => this.functionName(fn) === functionName);
    return found ? (found[2].properties.Role as string | undefined) : undefined;
  }

  stateMachineRole(stateMachineArn: string): string | undefined {
    const found = this.all('AWS::StepFunctions::StateMachine').find(([, , machine]) => machine.ref === stateMachineArn);
    return found ? (found[2].properties.RoleArn as string | undefined) : undefined;
  }

  /** The rule's targets as the template declares them (the role EventBridge assumes for each, if any). */
  ruleTargets(ruleArn: string): RuleTargetModel[] {
    const found = this.all('AWS::Events::Rule').find(([, , rule]) => rule.arn === ruleArn);
    const targets = (found?.[2].properties.Targets ?? []) as { Id: string; Arn: string; RoleArn?: string }[];
    return targets.map((t) => ({ id: t.Id, arn: t.Arn, ...(t.RoleArn ? { roleArn: t.RoleArn } : {}) }));
  }

  /** A rule's ARN by its logical id (local EventBridge names rules by logical id). */
  ruleArn(logicalId: string): string | undefined {
    for (const [, id, rule] of this.all('AWS::Events::Rule')) if (id === logicalId) return rule.arn;
    return undefined;
  }

  /**
   * The resource-based policy that governs `resourceArn`, with a name for the console: the bucket policy of an
   * S3 bucket or object, the topic policy (SNS's default policy when the template sets none), the key policy
   * (KMS's default when the template sets none), the AWS::Lambda::Permission statements of a function.
   * Undefined for services whose resource policies the model does not read (DynamoDB).
   */
  resourcePolicy(resourceArn: string): NamedPolicy | undefined {
    const [, , service, , , rest = ''] = resourceArn.split(':');
    if (service === 'iam' && rest.startsWith('role/')) {
      const trust = this.role(resourceArn)?.trust;
      return trust ? { name: `the trust policy of ${rest}`, document: trust } : undefined;
    }
    if (service === 's3') {
      const bucket = resourceArn.slice('arn:aws:s3:::'.length).split('/')[0] as string;
      const statements = this.all('AWS::S3::BucketPolicy')
        .filter(([, , policy]) => policy.properties.Bucket === bucket)
        .flatMap(([, , policy]) => (policy.properties.PolicyDocument as PolicyDocument).Statement);
      return { name: `the bucket policy of ${bucket}`, document: { Version: '2012-10-17', Statement: statements } };
    }
    if (service === 'sns') {
      const policies = this.all('AWS::SNS::TopicPolicy').filter(([, , policy]) => ((policy.properties.Topics ?? []) as string[]).includes(resourceArn));
      const statements = policies.length > 0 ? policies.flatMap(([, , policy]) => (policy.properties.PolicyDocument as PolicyDocument).Statement) : this.defaultTopicPolicy(resourceArn);
      return { name: `the topic policy of ${resourceArn.split(':').pop()}`, document: { Version: '2012-10-17', Statement: statements } };
    }
    if (service === 'kms' && rest.startsWith('key/')) {
      const key = this.all('AWS::KMS::Key').find(([, , k]) => k.arn === resourceArn);
      const document = (key?.[2].properties.KeyPolicy as PolicyDocument | undefined) ?? this.defaultKeyPolicy();
      return { name: `the key policy of ${rest}`, document };
    }
    if (service === 'lambda') {
      const functionName = rest === 'function' ? (resourceArn.split(':')[6] as string) : undefined;
      if (!functionName) return undefined;
      const statements = this.all('AWS::Lambda::Permission')
        .filter(([, , permission]) => lambdaNameOf(String(permission.properties.FunctionName)) === functionName)
        .map(([, id, permission]) => this.permissionStatement(id, permission));
      return { name: `the resource policy of function ${functionName}`, document: { Version: '2012-10-17', Statement: statements } };
    }
    return undefined;
  }

  /** The KMS key behind a bucket's default encryption; undefined when objects are not KMS-encrypted. */
  bucketKey(bucketName: string): EncryptionKey | undefined {
    const found = this.all('AWS::S3::Bucket').find(([, , bucket]) => bucket.ref === bucketName);
    const rules = ((found?.[2].properties.BucketEncryption as { ServerSideEncryptionConfiguration?: unknown[] } | undefined)?.ServerSideEncryptionConfiguration ?? []) as {
      BucketKeyEnabled?: boolean;
      ServerSideEncryptionByDefault?: { SSEAlgorithm?: string; KMSMasterKeyID?: string };
    }[];
    const rule = rules.find((r) => r.ServerSideEncryptionByDefault?.SSEAlgorithm?.startsWith('aws:kms'));
    if (!rule) return undefined;
    return { keyArn: this.keyArnOf(rule.ServerSideEncryptionByDefault?.KMSMasterKeyID), bucketKey: rule.BucketKeyEnabled === true };
  }

  /** The KMS key behind a topic's server-side encryption; undefined when the topic is not encrypted. */
  topicKey(topicArn: string): EncryptionKey | undefined {
    const found = this.all('AWS::SNS::Topic').find(([, , topic]) => topic.ref === topicArn);
    const key = found?.[2].properties.KmsMasterKeyId as string | undefined;
    return key === undefined ? undefined : { keyArn: this.keyArnOf(key) };
  }

  /** A key id, key ARN or alias -> the key's ARN; `aws-managed` for an AWS managed key (alias/aws/...) or none given. */
  private keyArnOf(value: string | undefined): string {
    if (value === undefined || value.startsWith('alias/aws/') || value.includes(':alias/aws/')) return 'aws-managed';
    if (value.startsWith('arn:')) return value;
    return `arn:aws:kms:${this.options.region}:${this.options.accountId}:key/${value}`;
  }

  private functionName(fn: StackResource): string | undefined {
    const declared = fn.properties.FunctionName;
    if (typeof declared === 'string') return declared;
    return fn.ref;
  }

  /** An AWS::Lambda::Permission as the statement Lambda adds to the function's policy (AddPermission). */
  private permissionStatement(id: string, permission: StackResource): PolicyStatement {
    const p = permission.properties as { Action: string; Principal: string; FunctionName: string; SourceArn?: string; SourceAccount?: string };
    const principal = /^\d{12}$/.test(p.Principal) ? { AWS: `arn:aws:iam::${p.Principal}:root` } : p.Principal.startsWith('arn:') || p.Principal === '*' ? { AWS: p.Principal } : { Service: p.Principal };
    const condition: Record<string, Record<string, string>> = {};
    if (p.SourceArn) condition.ArnLike = { 'AWS:SourceArn': p.SourceArn };
    if (p.SourceAccount) condition.StringEquals = { 'AWS:SourceAccount': p.SourceAccount };
    const resource = p.FunctionName.startsWith('arn:') ? p.FunctionName : `arn:aws:lambda:${this.options.region}:${this.options.accountId}:function:${p.FunctionName}`;
    return { Sid: id, Effect: 'Allow', Principal: principal, Action: p.Action, Resource: resource, ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}) };
  }

  /** SNS's default access policy of a topic: principals of the owning account (AWS:SourceOwner) may use it. */
  private defaultTopicPolicy(topicArn: string): PolicyStatement[] {
    return [
      {
        Sid: '__default_statement_ID',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: ['SNS:GetTopicAttributes', 'SNS:SetTopicAttributes', 'SNS:AddPermission', 'SNS:RemovePermission', 'SNS:DeleteTopic', 'SNS:Subscribe', 'SNS:ListSubscriptionsByTopic', 'SNS:Publish'],
        Resource: topicArn,
        Condition: { StringEquals: { 'AWS:SourceOwner': this.options.accountId } },
      },
    ];
  }

  /** KMS's default key policy: the account (its IAM policies) may use the key. */
  private defaultKeyPolicy(): PolicyDocument {
    return { Version: '2012-10-17', Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${this.options.accountId}:root` }, Action: 'kms:*', Resource: '*' }] };
  }

  private all(type: string): [string, string, StackResource][] {
    const found: [string, string, StackResource][] = [];
    for (const [stackName, stack] of this.stacks) {
      for (const [id, resource] of stack.resources) if (resource.type === type) found.push([stackName, id, resource]);
    }
    return found;
  }
}

/** A function name, partial or full ARN (qualified or not) -> the function's name. */
export function lambdaNameOf(value: string): string {
  const arn = /^arn:aws:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(value);
  if (arn) return arn[1] as string;
  return value.split(':')[0] as string;
}

function digest(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}
