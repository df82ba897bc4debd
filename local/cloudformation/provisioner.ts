// What the local CloudFormation asks of each resource type: create, update in place, delete, and restore (bring
// an existing resource back into the running emulation after a restart, without creating anything).

/** A resource as the template wants it, its properties resolved. */
export interface DesiredResource {
  readonly stackName: string;
  readonly logicalId: string;
  readonly type: string;
  /** Resolved: intrinsic functions applied, AWS::NoValue properties left out. */
  readonly properties: Readonly<Record<string, unknown>>;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** The name the resource gets: its explicit name property when the template sets one, else one derived from stack and logical id. */
  readonly physicalName: string;
}

/** A resource as it exists: what CreateStack made of it, kept in the stack and across restarts. */
export interface ResourceRecord extends DesiredResource {
  /** What Ref returns. */
  readonly physicalId: string;
  /** What Fn::GetAtt returns, by attribute name. */
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly deletionPolicy?: string;
  readonly updateReplacePolicy?: string;
}

export interface Provisioned {
  readonly physicalId: string;
  readonly attributes?: Readonly<Record<string, unknown>>;
}

export interface Provisioner {
  /**
   * Top-level properties whose change needs a new physical resource ("Update requires: Replacement" in the
   * resource type's reference). Without `update`, every change replaces.
   */
  readonly replaceOn?: readonly string[];
  create(resource: DesiredResource): Provisioned | Promise<Provisioned>;
  update?(previous: ResourceRecord, resource: DesiredResource): Provisioned | Promise<Provisioned>;
  delete(record: ResourceRecord): void | Promise<void>;
  /** Brings the resource back into the emulation after a restart (default: nothing to do). */
  restore?(record: ResourceRecord): void | Promise<void>;
}

/** A resource type the local runtime cannot emulate: its resource fails, naming the type. */
export class UnsupportedResourceError extends Error {
  override readonly name = 'UnsupportedResourceError';
}

/** The name property each type lets a template set; when set, it wins over the derived name, as on AWS. */
export const NAME_PROPERTIES: Readonly<Record<string, string>> = {
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::CloudWatch::Alarm': 'AlarmName',
  'AWS::CloudWatch::Dashboard': 'DashboardName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::ManagedPolicy': 'ManagedPolicyName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::Events::Rule': 'Name',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::KMS::Alias': 'AliasName',
};

/** Lower-case, dash-separated, at most 63 characters: valid as a bucket name and readable as a table name. */
export function physicalName(stackName: string, logicalId: string): string {
  return `${stackName}-${logicalId}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 63)
    .replace(/-+$/, '');
}

/** The explicit name property of a resource, if its template sets one. */
export function explicitName(type: string, properties: Readonly<Record<string, unknown>>): string | undefined {
  const property = NAME_PROPERTIES[type];
  const value = property === undefined ? undefined : properties[property];
  return typeof value === 'string' ? value : undefined;
}
