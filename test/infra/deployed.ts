// A synthesized template as CloudFormation would leave it once created: every resource gets the physical id
// CloudFormation would give it (its explicit name, or a generated `<stack>-<LogicalId>-<suffix>`) and the ARN of
// its type, so the construct tests can read names, grants and parameters as the strings AWS sees. The intrinsic
// functions are resolved by the local runtime's own resolver (local/template.ts).
import { createHash } from 'node:crypto';
import { evaluateConditions, resolveValue, type CfnTemplate, type ResolutionContext } from '../../local/template';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';

/** The property that names a resource of each type, where a template may set it. */
export const NAME_PROPERTY: Readonly<Record<string, string>> = {
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::Lambda::Alias': 'Name',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::CloudWatch::Dashboard': 'DashboardName',
  'AWS::CloudWatch::Alarm': 'AlarmName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::ManagedPolicy': 'ManagedPolicyName',
  'AWS::Events::Rule': 'Name',
  'AWS::KMS::Alias': 'AliasName',
  'AWS::ApiGateway::RestApi': 'Name',
  'AWS::ApiGateway::Stage': 'StageName',
  'AWS::ApiGateway::Model': 'Name',
  'AWS::ApiGateway::ApiKey': 'Name',
  'AWS::ApiGateway::UsagePlan': 'UsagePlanName',
};

/** Types whose Ref is a generated id even when the template names them. */
const REF_IS_ID = new Set(['AWS::ApiGateway::RestApi', 'AWS::ApiGateway::ApiKey', 'AWS::ApiGateway::UsagePlan']);

export interface DeployOptions {
  /** The stack's name (a model stack's: `<deployment>-model-<m>`). */
  readonly stackName: string;
  /** Parameter values; parameters left out take their Default. */
  readonly parameters?: Readonly<Record<string, string>>;
  /**
   * Which creation of the stack this is: generated names and ids differ from one creation to the next (delete the
   * stack, create it again), explicit names only where they derive from one.
   *
   * @default 1
   */
  readonly creation?: number;
}

export interface DeployedStack {
  readonly stackName: string;
  readonly template: CfnTemplate;
  /** Logical ids of the resources CloudFormation creates: those without a Condition or whose Condition holds. */
  readonly created: readonly string[];
  /** A template value with every intrinsic function resolved. */
  resolve(value: unknown): unknown;
  /** The resolved value as a string (fails the test when it is not one). */
  text(value: unknown): string;
  /** What Ref of a resource gives. */
  ref(logicalId: string): string;
  /** What Fn::GetAtt <logicalId>.Arn gives. */
  arn(logicalId: string): string;
}

/** The template after CloudFormation created it as `options.stackName`, in ACCOUNT and REGION. */
export function deployed(template: CfnTemplate, options: DeployOptions): DeployedStack {
  const creation = options.creation ?? 1;
  const { stackName } = options;
  const resources = template.Resources;
  const parameters: Record<string, string> = {};
  for (const [name, declaration] of Object.entries(template.Parameters ?? {})) {
    const value = options.parameters?.[name] ?? (declaration.Default === undefined ? undefined : String(declaration.Default));
    if (value !== undefined) parameters[name] = value;
  }

  const refs = new Map<string, string>();
  const resolving = new Set<string>();
  const suffix = (id: string) => createHash('sha256').update(`${stackName}/${id}/${creation}`).digest('hex').slice(0, 12).toUpperCase();
  const generated = (id: string) => `${stackName}-${id}-${suffix(id)}`;

  const physicalId = (id: string): string => {
    const known = refs.get(id);
    if (known !== undefined) return known;
    const resource = resources[id];
    if (!resource) throw new Error(`no resource or parameter ${id} in the template`);
    if (resolving.has(id)) throw new Error(`the name of ${id} refers to itself`);
    resolving.add(id);
    const nameProperty = NAME_PROPERTY[resource.Type];
    const explicit = nameProperty === undefined || REF_IS_ID.has(resource.Type) ? undefined : resource.Properties?.[nameProperty];
    let id_ = explicit === undefined ? generated(id) : String(resolveValue(explicit, context));
    if (resource.Type === 'AWS::S3::Bucket' && explicit === undefined) id_ = id_.toLowerCase();
    resolving.delete(id);
    refs.set(id, id_);
    return id_;
  };

  const arnOf = (id: string): string => {
    const resource = resources[id];
    if (!resource) throw new Error(`no resource ${id} in the template`);
    const name = physicalId(id);
    const at = (service: string, resource_: string, region = REGION, account = ACCOUNT) => `arn:aws:${service}:${region}:${account}:${resource_}`;
    switch (resource.Type) {
      case 'AWS::S3::Bucket':
        return `arn:aws:s3:::${name}`;
      case 'AWS::DynamoDB::Table':
        return at('dynamodb', `table/${name}`);
      case 'AWS::KMS::Key':
        return at('kms', `key/${name}`);
      case 'AWS::Lambda::Function':
        return at('lambda', `function:${name}`);
      case 'AWS::IAM::Role':
        return at('iam', `role/${name}`, '');
      case 'AWS::SQS::Queue':
        return at('sqs', name);
      case 'AWS::Events::Rule':
        return at('events', `rule/${name}`);
      case 'AWS::Logs::LogGroup':
        return at('logs', `log-group:${name}:*`);
      case 'AWS::CloudWatch::Dashboard':
        return at('cloudwatch', `dashboard/${name}`, '');
      case 'AWS::CloudWatch::Alarm':
        return at('cloudwatch', `alarm:${name}`);
      case 'AWS::ApiGateway::RestApi':
        return at('apigateway', `/restapis/${name}`, REGION, '');
      case 'AWS::ApiGateway::Resource':
        return at('apigateway', `/restapis/${String(resolveValue(resource.Properties?.RestApiId, context))}/resources/${name}`, REGION, '');
      case 'AWS::IAM::ManagedPolicy':
      case 'AWS::SNS::Topic':
      case 'AWS::StepFunctions::StateMachine':
      case 'AWS::Lambda::Alias':
        return refOf(id);
      default:
        return at(resource.Type.split('::')[1]!.toLowerCase(), name);
    }
  };

  const refOf = (id: string): string => {
    if (id in parameters) return parameters[id] as string;
    const resource = resources[id];
    if (!resource) throw new Error(`no resource or parameter ${id} in the template`);
    const name = physicalId(id);
    switch (resource.Type) {
      case 'AWS::SNS::Topic':
        return `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`;
      case 'AWS::StepFunctions::StateMachine':
        return `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`;
      case 'AWS::IAM::ManagedPolicy':
        return `arn:aws:iam::${ACCOUNT}:policy/${name}`;
      case 'AWS::SQS::Queue':
        return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
      case 'AWS::Lambda::LayerVersion':
        return `arn:aws:lambda:${REGION}:${ACCOUNT}:layer:${name}:1`;
      case 'AWS::Lambda::Alias':
        return `${functionArnOf(resource.Properties?.FunctionName)}:${name}`;
      default:
        return name;
    }
  };
  const functionArnOf = (functionName: unknown): string => {
    const value = String(resolveValue(functionName, context));
    return value.startsWith('arn:') ? value : `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${value}`;
  };

  const attribute = (key: string): unknown => {
    const [id, name] = [key.slice(0, key.indexOf('.')), key.slice(key.indexOf('.') + 1)];
    const resource = resources[id];
    if (!resource) return undefined;
    switch (name) {
      case 'Arn':
        return arnOf(id);
      case 'StreamArn':
        return `${arnOf(id)}/stream/2025-01-01T00:00:00.000`;
      case 'RootResourceId':
        return `${physicalId(id)}-root`;
      case 'TopicArn':
      case 'QueueUrl':
        return refOf(id);
      case 'Name':
      case 'TopicName':
      case 'QueueName':
        return physicalId(id);
      default:
        return `${physicalId(id)}.${name}`;
    }
  };

  // Lazy views: a resource's name may refer to other resources (the API's execution log group).
  const context: ResolutionContext = {
    region: REGION,
    accountId: ACCOUNT,
    stackName,
    refs: { get: (id: string) => (id in parameters || id in resources ? refOf(id) : undefined) } as unknown as Map<string, string>,
    attributes: { get: attribute } as unknown as Map<string, unknown>,
  };
  const conditions = evaluateConditions(template, context);
  Object.assign(context, { conditions });
  const created = Object.entries(resources)
    .filter(([, resource]) => resource.Condition === undefined || conditions.get(resource.Condition) === true)
    .map(([id]) => id);

  return {
    stackName,
    template,
    created,
    resolve: (value) => resolveValue(value, context),
    text: (value) => {
      const resolved = resolveValue(value, context);
      if (typeof resolved !== 'string') throw new Error(`expected a string, got: ${JSON.stringify(resolved)}`);
      return resolved;
    },
    ref: refOf,
    arn: arnOf,
  };
}

/** Whether an IAM resource pattern (`*` any run of characters, `?` one) selects `arn`. */
export function iamMatches(pattern: string, arn: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`).test(arn);
}
