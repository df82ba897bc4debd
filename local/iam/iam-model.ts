// What the running stacks say about permissions: roles (trust, inline policies, the AWS::IAM::Policy and
// AWS::IAM::ManagedPolicy resources attached to them, their permissions boundary), resource policies (bucket,
// topic and key policies; a function's policy as Lambda holds it), the KMS keys behind encrypted buckets and
// topics, and who acts as whom (a function's role, a state machine's role). The local CloudFormation tells the
// model of every change to a stack's resources (LocalIam.followStack): each stack is replaced whole, and every
// question is answered across all the stacks present.
import type { ResourceRecord } from '../cloudformation/provisioner';
import type { PermissionStatement } from '../lambda-service';

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
  /** Managed policies attached by an ARN no stack defines (AWS managed policies): their text is not known locally. */
  readonly unknownPolicyArns: readonly string[];
  /** The permissions boundary's ARN, if the role has one. */
  readonly boundaryArn?: string;
  /** The boundary's document, when a stack defines that managed policy. */
  readonly boundary?: NamedPolicy;
}

/** The KMS key that encrypts a bucket's objects or a topic's messages. */
export interface EncryptionKey {
  /** The key's ARN, or `aws-managed` for an AWS managed key (aws/s3, aws/sns). */
  readonly keyArn: string;
  /** S3 Bucket Keys: the encryption context is the bucket ARN, not the object's. */
  readonly bucketKey?: boolean;
}

/** Types whose resources the model reads. */
export const IAM_RESOURCE_TYPES: ReadonlySet<string> = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::S3::Bucket',
  'AWS::S3::BucketPolicy',
  'AWS::SNS::Topic',
  'AWS::SNS::TopicPolicy',
  'AWS::KMS::Key',
  'AWS::Lambda::Function',
  'AWS::StepFunctions::StateMachine',
]);

/** A stack's resources as the model reads them: what the local CloudFormation made of the template. */
export function stackResources(records: Iterable<ResourceRecord>): Record<string, StackResource> {
  const resources: Record<string, StackResource> = {};
  for (const record of records) {
    if (!IAM_RESOURCE_TYPES.has(record.type)) continue;
    const arn = record.attributes.Arn ?? record.attributes.PolicyArn;
    resources[record.logicalId] = { type: record.type, properties: record.properties, ref: record.physicalId, ...(typeof arn === 'string' ? { arn } : {}) };
  }
  return resources;
}

export interface IamModelOptions {
  readonly region: string;
  readonly accountId: string;
  /** A function's resource-based policy as Lambda holds it (AddPermission), for the function or one qualifier. */
  readonly functionPolicy?: (functionName: string, qualifier: string | undefined) => readonly PermissionStatement[];
}

/**
 * The permissions of every stack the runtime runs. `revision` changes whenever a stack is added or removed,
 * so decisions cached against it are never stale.
 */
export class IamModel {
  private readonly stacks = new Map<string, ReadonlyMap<string, StackResource>>();
  private changes = 0;

  constructor(private readonly options: IamModelOptions) {}

  get revision(): number {
    return this.changes;
  }

  /** Adds a stack, or replaces the stack of that name (an update). */
  addStack(stackName: string, resources: Readonly<Record<string, StackResource>>): void {
    this.stacks.set(stackName, new Map(Object.entries(resources)));
    this.changes++;
  }

  removeStack(stackName: string): void {
    if (this.stacks.delete(stackName)) this.changes++;
  }

  /** A role by ARN, with every policy attached to it from any stack. */
  role(roleArn: string): RoleModel | undefined {
    for (const [stackName, id, resource] of this.all('AWS::IAM::Role')) {
      if (resource.arn !== roleArn) continue;
      const name = resource.ref ?? roleArn.split('/').pop() ?? roleArn;
      const attachedTo = (roles: unknown) => ((roles ?? []) as string[]).some((role) => role === name || role === roleArn);
      const inline = ((resource.properties.Policies ?? []) as { PolicyName: string; PolicyDocument: PolicyDocument }[]).map((p) => ({
        name: `${stackName}/${id}/${p.PolicyName}`,
        document: p.PolicyDocument,
      }));
      const policies = this.all('AWS::IAM::Policy')
        .filter(([, , policy]) => attachedTo(policy.properties.Roles))
        .map(([policyStack, policyId, policy]) => ({ name: `${policyStack}/${policyId}`, document: policy.properties.PolicyDocument as PolicyDocument }));
      const byArn = ((resource.properties.ManagedPolicyArns ?? []) as string[]).map(String);
      const managed = this.all('AWS::IAM::ManagedPolicy').filter(([, , policy]) => attachedTo(policy.properties.Roles) || byArn.includes(policy.arn ?? ''));
      const boundaryArn = typeof resource.properties.PermissionsBoundary === 'string' ? resource.properties.PermissionsBoundary : undefined;
      const boundary = boundaryArn === undefined ? undefined : this.managedPolicy(boundaryArn);
      return {
        arn: roleArn,
        name,
        trust: resource.properties.AssumeRolePolicyDocument as PolicyDocument | undefined,
        policies: [
          ...inline,
          ...policies,
          ...managed.map(([policyStack, policyId, policy]) => ({ name: `${policyStack}/${policyId}`, document: policy.properties.PolicyDocument as PolicyDocument })),
        ],
        unknownPolicyArns: byArn.filter((arn) => !managed.some(([, , policy]) => policy.arn === arn)),
        ...(boundaryArn !== undefined ? { boundaryArn } : {}),
        ...(boundary ? { boundary } : {}),
      };
    }
    return undefined;
  }

  /** A role's ARN by its name (what Ref of the role gives). */
  roleArn(roleName: string): string | undefined {
    return this.all('AWS::IAM::Role').find(([, , role]) => role.ref === roleName)?.[2].arn;
  }

  /** A customer managed policy a stack defines, by ARN. */
  managedPolicy(policyArn: string): NamedPolicy | undefined {
    const found = this.all('AWS::IAM::ManagedPolicy').find(([, , policy]) => policy.arn === policyArn);
    return found ? { name: `${found[0]}/${found[1]}`, document: found[2].properties.PolicyDocument as PolicyDocument } : undefined;
  }

  /** The execution role ARN of a function, by function name. */
  functionRole(functionName: string): string | undefined {
    const found = this.all('AWS::Lambda::Function').find(([, , fn]) => fn.ref === functionName);
    return found ? (found[2].properties.Role as string | undefined) : undefined;
  }

  stateMachineRole(stateMachineArn: string): string | undefined {
    const found = this.all('AWS::StepFunctions::StateMachine').find(([, , machine]) => machine.ref === stateMachineArn);
    return found ? (found[2].properties.RoleArn as string | undefined) : undefined;
  }

  /**
   * The resource-based policy that governs `resourceArn`, with a name for the console: the bucket policy of an
   * S3 bucket or object, the topic policy (SNS's default policy when the template sets none), the key policy
   * (KMS's default when the template sets none), the trust policy of a role, the policy of a function (or of
   * the version or alias a qualified ARN names). Undefined for services whose resource policies the model
   * does not read (DynamoDB).
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
      const statements =
        policies.length > 0 ? policies.flatMap(([, , policy]) => (policy.properties.PolicyDocument as PolicyDocument).Statement) : this.defaultTopicPolicy(resourceArn);
      return { name: `the topic policy of ${resourceArn.split(':').pop()}`, document: { Version: '2012-10-17', Statement: statements } };
    }
    if (service === 'kms' && rest.startsWith('key/')) {
      const key = this.all('AWS::KMS::Key').find(([, , k]) => k.arn === resourceArn);
      const document = (key?.[2].properties.KeyPolicy as PolicyDocument | undefined) ?? this.defaultKeyPolicy();
      return { name: `the key policy of ${rest}`, document };
    }
    if (service === 'lambda' && rest === 'function' && this.options.functionPolicy) {
      const [, , , , , , functionName = '', qualifier] = resourceArn.split(':');
      const statements = this.options.functionPolicy(functionName, qualifier).map((s) => this.permissionStatement(resourceArn, s));
      return { name: `the resource policy of function ${qualifier ? `${functionName}:${qualifier}` : functionName}`, document: { Version: '2012-10-17', Statement: statements } };
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

  /** A statement of a function's policy (AddPermission) as Lambda shows it in GetPolicy. */
  private permissionStatement(resource: string, p: PermissionStatement): PolicyStatement {
    const principal = /^\d{12}$/.test(p.principal)
      ? { AWS: `arn:aws:iam::${p.principal}:root` }
      : p.principal.startsWith('arn:') || p.principal === '*'
        ? { AWS: p.principal }
        : { Service: p.principal };
    const condition: Record<string, Record<string, string>> = {};
    if (p.sourceArn) condition.ArnLike = { 'AWS:SourceArn': p.sourceArn };
    if (p.sourceAccount) condition.StringEquals = { 'AWS:SourceAccount': p.sourceAccount };
    return { Sid: p.sid, Effect: 'Allow', Principal: principal, Action: p.action, Resource: resource, ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}) };
  }

  /** SNS's default access policy of a topic: principals of the owning account (AWS:SourceOwner) may use it. */
  private defaultTopicPolicy(topicArn: string): PolicyStatement[] {
    return [
      {
        Sid: '__default_statement_ID',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: [
          'SNS:GetTopicAttributes',
          'SNS:SetTopicAttributes',
          'SNS:AddPermission',
          'SNS:RemovePermission',
          'SNS:DeleteTopic',
          'SNS:Subscribe',
          'SNS:ListSubscriptionsByTopic',
          'SNS:Publish',
        ],
        Resource: topicArn,
        Condition: { StringEquals: { 'AWS:SourceOwner': this.options.accountId } },
      },
    ];
  }

  /** KMS's default key policy: the account (its IAM policies) may use the key. */
  private defaultKeyPolicy(): PolicyDocument {
    return {
      Version: '2012-10-17',
      Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${this.options.accountId}:root` }, Action: 'kms:*', Resource: '*' }],
    };
  }

  private all(type: string): [string, string, StackResource][] {
    const found: [string, string, StackResource][] = [];
    for (const [stackName, resources] of this.stacks) {
      for (const [id, resource] of resources) if (resource.type === type) found.push([stackName, id, resource]);
    }
    return found;
  }
}
