// The parameters of a model's CloudFormation stack: what lib/serving/model-stack.ts declares and the
// pipeline's provision function passes to CreateStack / UpdateStack. One list of names for both sides.

/** Settings the base stack knows at deploy time and hands to every model stack (the provision function's environment). */
export type DeploymentParameters = {
  /** The base stack's name; every resource name derives from it (core/naming.ts). */
  readonly Deployment: string;
  /** The inference code the base stack published (an S3 asset). */
  readonly CodeBucket: string;
  readonly CodeKey: string;
  /** The inference image the base stack built (an ECR image asset); empty when no declared model is packaged as an image. */
  readonly ImageUri: string;
  readonly ModelBucketName: string;
  /** The bucket's KMS key; empty when the bucket uses SSE-S3. */
  readonly ModelBucketKeyArn: string;
  readonly PredictionTableName: string;
  readonly RegistryTableName: string;
  readonly ExperimentTableName: string;
  readonly RestApiId: string;
  /** The base API's `/v1/models` and `/v2/models` resources: a model's routes go below them. */
  readonly V1ModelsResourceId: string;
  readonly V2ModelsResourceId: string;
  readonly RequestValidatorId: string;
  readonly JsonObjectModelName: string;
  /** Admits each API key to its kind of client's routes (lib/api/model-api.ts): every method uses it. */
  readonly AuthorizerId: string;
  /** Serves `GET /v1/models/<name>` (the registry's view) for every model. */
  readonly ModelsFunctionArn: string;
  /** Every role a model stack creates carries this boundary; the CloudFormation role may create no other. */
  readonly PermissionsBoundaryArn: string;
  readonly LogLevel: string;
  readonly LogRetentionDays: string;
};

/** Settings of one model. */
export type ModelParameters = {
  readonly ModelName: string;
  /** 'false' takes the model's routes out (retire, before the stack is deleted); its invoke permissions stay until the stack goes. */
  readonly Serving: 'true' | 'false';
  /** MB, in Lambda's range. */
  readonly MemorySize: string;
  /** Empty for unreserved concurrency. */
  readonly ReservedConcurrency: string;
  /** 'Image' runs the function from ImageUri (a model declared with packaging: image), 'Zip' from CodeBucket/CodeKey. */
  readonly PackageType: 'Zip' | 'Image';
};

export type ModelStackParameters = DeploymentParameters & ModelParameters;

export type ModelStackParameterName = keyof ModelStackParameters;

/** The parameter names in the order the template declares them. */
export const MODEL_STACK_PARAMETER_NAMES: readonly ModelStackParameterName[] = [
  'ModelName',
  'Serving',
  'MemorySize',
  'ReservedConcurrency',
  'PackageType',
  'Deployment',
  'CodeBucket',
  'CodeKey',
  'ImageUri',
  'ModelBucketName',
  'ModelBucketKeyArn',
  'PredictionTableName',
  'RegistryTableName',
  'ExperimentTableName',
  'RestApiId',
  'V1ModelsResourceId',
  'V2ModelsResourceId',
  'RequestValidatorId',
  'JsonObjectModelName',
  'AuthorizerId',
  'ModelsFunctionArn',
  'PermissionsBoundaryArn',
  'LogLevel',
  'LogRetentionDays',
];

/** The parameters the base stack decides, the same for every model. */
export const DEPLOYMENT_PARAMETER_NAMES: readonly ModelStackParameterName[] = MODEL_STACK_PARAMETER_NAMES.filter(
  (name) => !['ModelName', 'Serving', 'MemorySize', 'ReservedConcurrency', 'PackageType'].includes(name),
);

/** Where the base stack publishes the model stack's template, in the model bucket. */
export const MODEL_STACK_TEMPLATE_KEY = 'templates/model-stack.json';

/** CreateStack's TemplateBody limit: the template must stay below it (a test checks the synthesized one). */
export const TEMPLATE_BODY_LIMIT_BYTES = 51_200;
