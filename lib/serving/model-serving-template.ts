import * as path from 'node:path';
import { AssetStaging, type CfnElement, RemovalPolicy, Stack, Stage, Token, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { MODEL_STACK_TEMPLATE_KEY, TEMPLATE_BODY_LIMIT_BYTES, type DeploymentParameters } from '../../lambdas/contracts/model-stack';
import { modelFunctionName, modelStackName } from '../../lambdas/core/naming';
import { DECLARATIONS_KEY, type DeploymentDeclarations } from '../../lambdas/core/pipeline/declarations';
import type { ModelApi } from '../api/model-api';
import { bundlingOptions, HANDLERS_DIR } from '../functions/bundling';
import type { LogLevel } from '../functions/modelgate-function';
import { acknowledgeBucketDeployment, nagArnOf } from '../validation/nag-acknowledgements';
import { stageInferenceImageContext } from './inference-image';
import { synthesizeModelStackTemplate } from './model-stack';

export interface ModelServingTemplateProps {
  readonly modelBucket: s3.IBucket;
  readonly modelBucketKey?: kms.IKey;
  readonly predictionTable: dynamodb.ITable;
  readonly registryTable: dynamodb.ITable;
  readonly experimentTable: dynamodb.ITable;
  readonly api: ModelApi;
  /** What the pipeline reads about the models (config/models.json). */
  readonly declarations: DeploymentDeclarations;
  /** @default 'INFO' */
  readonly logLevel?: LogLevel;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Everything the pipeline needs to give a model its own stack (docs/infrastructure.md): the inference code
 * (bundled once, published as an asset with this stack), the model stack's template and the model
 * declarations (published to the model bucket), the CloudFormation service role model stacks are created
 * with, and the permissions boundary every role of a model stack must carry — so the role CloudFormation acts
 * as cannot create a role that can do more than serve a model.
 */
export class ModelServingTemplate extends Construct {
  readonly inferenceCode: s3assets.Asset;
  /** The inference code as a container image, built when a declared model has `packaging: image`. */
  readonly inferenceImage?: ecrAssets.DockerImageAsset;
  readonly cloudFormationRole: iam.Role;
  readonly boundary: iam.ManagedPolicy;
  readonly publication: s3deploy.BucketDeployment;
  /** The parameters every model stack gets from this deployment. */
  readonly parameters: DeploymentParameters;

  constructor(scope: Construct, id: string, props: ModelServingTemplateProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const deployment = stack.stackName;
    const region = stack.region;
    const account = stack.account;
    const partition = stack.partition;
    const functions = `arn:${partition}:lambda:${region}:${account}:function:${modelFunctionName(deployment, '*')}`;
    const stacks = `arn:${partition}:cloudformation:${region}:${account}:stack/${modelStackName(deployment, '*')}/*`;

    this.inferenceCode = new s3assets.Asset(this, 'InferenceCode', bundlingOptions({ entry: `${HANDLERS_DIR}/inference.ts`, onnxPlatform: 'arm64' }));

    if (Object.values(props.declarations.models).some((model) => model.packaging === 'image')) this.inferenceImage = this.buildInferenceImage();

    const template = synthesizeModelStackTemplate();
    const templateBytes = Buffer.byteLength(JSON.stringify(template));
    if (templateBytes > TEMPLATE_BODY_LIMIT_BYTES) {
      throw new Error(`the model stack's template is ${templateBytes} bytes, above CloudFormation's TemplateBody limit of ${TEMPLATE_BODY_LIMIT_BYTES}`);
    }

    // What a model's inference function may do, at most: the boundary of every role a model stack creates.
    this.boundary = new iam.ManagedPolicy(this, 'ModelRoleBoundary', {
      description: `modelgate ${deployment}: the most a model stack's role may do (permissions boundary)`,
      statements: [
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [`arn:${partition}:logs:${region}:${account}:log-group:${modelStackName(deployment, '*')}`],
        }),
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [props.modelBucket.arnForObjects('models/*')] }),
        ...(props.modelBucketKey ? [new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [props.modelBucketKey.keyArn] })] : []),
        new iam.PolicyStatement({ actions: ['dynamodb:PutItem', 'dynamodb:BatchWriteItem'], resources: [props.predictionTable.tableArn] }),
        new iam.PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [props.registryTable.tableArn] }),
        new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${props.experimentTable.tableArn}/index/*`] }),
        new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [`${functions}:*`] }),
        new iam.PolicyStatement({ actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'] }),
      ],
    });

    // CloudFormation acts as this role for model stacks: it may manage their resources, named by convention,
    // and create roles only with the boundary above.
    this.cloudFormationRole = new iam.Role(this, 'CloudFormationRole', {
      assumedBy: new iam.ServicePrincipal('cloudformation.amazonaws.com'),
      description: `modelgate ${deployment}: CloudFormation creates, updates and deletes the model stacks with this role`,
    });
    const allow = (actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      this.cloudFormationRole.addToPolicy(new iam.PolicyStatement({ actions, resources, ...(conditions ? { conditions } : {}) }));
    allow(
      [
        'lambda:CreateFunction',
        'lambda:DeleteFunction',
        'lambda:GetFunction',
        'lambda:GetFunctionConfiguration',
        'lambda:UpdateFunctionCode',
        'lambda:UpdateFunctionConfiguration',
        'lambda:PutFunctionConcurrency',
        'lambda:DeleteFunctionConcurrency',
        'lambda:CreateAlias',
        'lambda:DeleteAlias',
        'lambda:GetAlias',
        'lambda:AddPermission',
        'lambda:RemovePermission',
        'lambda:TagResource',
        'lambda:UntagResource',
        'lambda:ListTags',
      ],
      [functions, `${functions}:*`],
    );
    const roles = `arn:${partition}:iam::${account}:role/${modelStackName(deployment, '*')}`;
    allow(['iam:CreateRole', 'iam:PutRolePolicy', 'iam:AttachRolePolicy'], [roles], { StringEquals: { 'iam:PermissionsBoundary': this.boundary.managedPolicyArn } });
    allow(
      ['iam:GetRole', 'iam:DeleteRole', 'iam:DeleteRolePolicy', 'iam:DetachRolePolicy', 'iam:GetRolePolicy', 'iam:TagRole', 'iam:UntagRole', 'iam:UpdateRoleDescription'],
      [roles],
    );
    allow(['iam:PassRole'], [roles], { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } });
    allow(
      ['logs:CreateLogGroup', 'logs:DeleteLogGroup', 'logs:PutRetentionPolicy', 'logs:DeleteRetentionPolicy', 'logs:TagResource', 'logs:TagLogGroup'],
      [`arn:${partition}:logs:${region}:${account}:log-group:${modelStackName(deployment, '*')}`],
    );
    allow(['logs:DescribeLogGroups'], [`arn:${partition}:logs:${region}:${account}:log-group:*`]);
    allow(
      ['apigateway:GET', 'apigateway:POST', 'apigateway:PUT', 'apigateway:PATCH', 'apigateway:DELETE'],
      [`arn:${partition}:apigateway:${region}::/restapis/${props.api.api.restApiId}/resources*`],
    );
    allow(['cloudwatch:PutDashboard', 'cloudwatch:DeleteDashboards', 'cloudwatch:GetDashboard'], [`arn:${partition}:cloudwatch::${account}:dashboard/${deployment}-*`]);
    // Lambda reads the code object, and pulls the image, with the caller's (this role's) permissions. The image's
    // repository (the bootstrap's container assets) lets Lambda itself pull from it (its repository policy).
    allow(['s3:GetObject'], [this.inferenceCode.bucket.arnForObjects(this.inferenceCode.s3ObjectKey)]);
    if (this.inferenceImage) allow(['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], [this.inferenceImage.repository.repositoryArn]);
    allow(['cloudformation:DescribeStacks'], [stacks]);

    this.parameters = {
      Deployment: deployment,
      CodeBucket: this.inferenceCode.s3BucketName,
      CodeKey: this.inferenceCode.s3ObjectKey,
      ImageUri: this.inferenceImage?.imageUri ?? '',
      ModelBucketName: props.modelBucket.bucketName,
      ModelBucketKeyArn: props.modelBucketKey?.keyArn ?? '',
      PredictionTableName: props.predictionTable.tableName,
      RegistryTableName: props.registryTable.tableName,
      ExperimentTableName: props.experimentTable.tableName,
      RestApiId: props.api.api.restApiId,
      V1ModelsResourceId: props.api.v1Models.resourceId,
      V2ModelsResourceId: props.api.v2Models.resourceId,
      RequestValidatorId: props.api.validator.requestValidatorId,
      JsonObjectModelName: props.api.jsonObjectModel.modelId,
      AuthorizerId: props.api.authorizer.authorizerId,
      ModelsFunctionArn: props.api.modelsFunction.functionArn,
      PermissionsBoundaryArn: this.boundary.managedPolicyArn,
      LogLevel: props.logLevel ?? 'INFO',
      LogRetentionDays: String(props.logRetention ?? logs.RetentionDays.THREE_MONTHS),
    };

    this.publication = new s3deploy.BucketDeployment(this, 'Publication', {
      sources: [s3deploy.Source.jsonData(MODEL_STACK_TEMPLATE_KEY, template), s3deploy.Source.jsonData(DECLARATIONS_KEY, props.declarations)],
      destinationBucket: props.modelBucket,
      prune: false,
      retainOnDelete: true,
      memoryLimit: 512,
      logGroup: new logs.LogGroup(this, 'PublicationLogs', { retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY }),
    });
    acknowledgeBucketDeployment(this.publication, props.modelBucket, props.modelBucketKey !== undefined);

    this.acknowledge(props);
  }

  /**
   * One image for every image-packaged model, as one zip serves every zip model: the code is the same, the
   * model is read from the bucket at init. Built from the zip asset's bundle, so both run the same code.
   */
  private buildInferenceImage(): ecrAssets.DockerImageAsset {
    const context = path.join(Stage.of(this)?.outdir ?? '.', '.inference-image-context', Stack.of(this).artifactId);
    const staging = this.inferenceCode.node.tryFindChild('Stage');
    // Without bundling (synth for the local runtime) the zip asset's staged path is the source tree: no bundle.
    stageInferenceImageContext(context, Stack.of(this).bundlingRequired && staging instanceof AssetStaging ? staging.absoluteStagedPath : undefined);
    return new ecrAssets.DockerImageAsset(this, 'InferenceImage', { directory: context, platform: ecrAssets.Platform.LINUX_ARM64 });
  }

  /** The wildcards that are the point of these grants: model stacks, and what is in them, are named by convention and created at run time. */
  private acknowledge(props: ModelServingTemplateProps): void {
    const stack = Stack.of(this);
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    const deployment = stack.stackName;
    const ack = (construct: Construct, findings: readonly string[], reason: string) =>
      Validations.of(construct).acknowledge(...findings.map((finding) => ({ id: `AwsSolutions-IAM5[${finding}]`, reason })));
    const byConvention =
      'Model stacks are created at run time by the promotion pipeline, one per model, and name what they hold by convention (<deployment>-model-<model>); this grant covers exactly those names.';
    const functions = `Resource::arn:<AWS::Partition>:lambda:${region}:${account}:function:${modelFunctionName(deployment, '*')}`;
    const logGroups = `Resource::arn:<AWS::Partition>:logs:${region}:${account}:log-group:${modelStackName(deployment, '*')}`;
    ack(
      this.boundary,
      [
        `Resource::${nagArnOf(props.modelBucket)}/models/*`,
        `Resource::<${stack.getLogicalId(props.experimentTable.node.defaultChild as CfnElement)}.Arn>/index/*`,
        `${functions}:*`,
        logGroups,
      ],
      `The permissions boundary of every model stack's role caps what any model's function may do; each role's own policy narrows it to its model. ${byConvention}`,
    );
    ack(this.boundary, ['Resource::*'], 'X-Ray PutTraceSegments / PutTelemetryRecords do not support resource-level permissions.');
    const role = this.cloudFormationRole.node.tryFindChild('DefaultPolicy') ?? this.cloudFormationRole;
    ack(
      role,
      [
        functions,
        `${functions}:*`,
        `Resource::arn:<AWS::Partition>:iam::${account}:role/${modelStackName(deployment, '*')}`,
        logGroups,
        `Resource::arn:<AWS::Partition>:apigateway:${region}::/restapis/<${stack.getLogicalId(props.api.api.node.defaultChild as CfnElement)}>/resources*`,
        `Resource::arn:<AWS::Partition>:cloudwatch::${account}:dashboard/${deployment}-*`,
        `Resource::arn:<AWS::Partition>:cloudformation:${region}:${account}:stack/${modelStackName(deployment, '*')}/*`,
      ],
      `CloudFormation acts as this role for the model stacks only. ${byConvention} Roles it creates must carry the model permissions boundary.`,
    );
    ack(
      role,
      [`Resource::arn:<AWS::Partition>:logs:${region}:${account}:log-group:*`],
      'logs:DescribeLogGroups has no resource-level scoping below the account (CloudFormation calls it to read a log group back).',
    );
  }
}
