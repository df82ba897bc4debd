import { App, CfnCondition, CfnParameter, DefaultStackSynthesizer, Duration, Fn, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { inferenceEnvironment } from '../../lambdas/contracts/environment';
import { MODEL_STACK_PARAMETER_NAMES, type ModelStackParameterName } from '../../lambdas/contracts/model-stack';
import { SERVING_SERVICE } from '../../lambdas/core/monitoring/alarms';
import { LIVE_ALIAS_NAME, modelFunctionName } from '../../lambdas/core/naming';

import { ModelgateFunction } from '../functions/modelgate-function';
import { monitoringWidgets } from '../monitoring/monitoring-widgets';

/** Lambda's synchronous invocation payload limit is 6 MB; the proxy event envelope needs headroom. */
export const MAX_BODY_BYTES_LIMIT = 5 * 1024 * 1024;

/** CloudWatch Logs' retention values, in days (the LogRetentionDays parameter takes one of them). */
const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/**
 * One model's serving, as a CloudFormation stack the promotion pipeline creates, updates and deletes at run
 * time (docs/infrastructure.md): the model's inference function (code and settings from parameters), its
 * `live` alias, its routes below the base API's `/v1/models` and `/v2/models`, the permissions API Gateway
 * needs to call the alias, and the model's CloudWatch dashboard. Everything it refers to in the base stack
 * arrives as a parameter, so one template serves every model; it has no assets of its own.
 *
 * The `live` alias is created on `$LATEST` and its template never changes afterwards: CloudFormation never
 * writes routing. The pipeline's routing function is its only writer (publish a version per model version,
 * move the alias).
 */
export class ModelServingStack extends Stack {
  readonly parameters: Readonly<Record<ModelStackParameterName, CfnParameter>>;
  readonly inference: ModelgateFunction;
  readonly liveAlias: lambda.CfnAlias;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, { ...props, synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }) });
    this.templateOptions.description = "modelgate: one model's serving (inference function, live alias, routes, dashboard); created by the promotion pipeline";
    this.parameters = this.declareParameters();
    const p = (name: ModelStackParameterName) => this.parameters[name].valueAsString;
    const model = p('ModelName');
    const deployment = p('Deployment');

    const serving = new CfnCondition(this, 'IsServing', { expression: Fn.conditionEquals(p('Serving'), 'true') });
    const reserved = new CfnCondition(this, 'ReservesConcurrency', { expression: Fn.conditionNot(Fn.conditionEquals(p('ReservedConcurrency'), '')) });
    const encrypted = new CfnCondition(this, 'BucketEncryptedWithKey', { expression: Fn.conditionNot(Fn.conditionEquals(p('ModelBucketKeyArn'), '')) });
    const image = new CfnCondition(this, 'PackagedAsImage', { expression: Fn.conditionEquals(p('PackageType'), 'Image') });

    const arn = (service: string, resource: string) => Fn.sub(`arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${resource}`);
    const predictionTableArn = arn('dynamodb', 'table/${PredictionTableName}');
    const registryTableArn = arn('dynamodb', 'table/${RegistryTableName}');
    const experimentStatusIndexArn = arn('dynamodb', 'table/${ExperimentTableName}/index/byStatus');
    const modelBucket = s3.Bucket.fromBucketName(this, 'ImportedModelBucket', p('ModelBucketName'));

    this.inference = new ModelgateFunction(this, 'Inference', {
      handler: 'inference',
      deployment,
      functionName: modelFunctionName(deployment, model),
      description: Fn.sub('modelgate ${ModelName}: ONNX inference (/v1 predict, /v2 infer + metadata)'),
      onnx: true,
      code: lambda.Code.fromBucket(s3.Bucket.fromBucketName(this, 'InferenceCodeBucket', p('CodeBucket')), p('CodeKey')),
      memorySize: this.parameters.MemorySize.valueAsNumber,
      timeout: Duration.seconds(30),
      invokedBy: { kind: 'api-gateway' },
      logLevel: p('LogLevel') as 'INFO',
      systemLogLevel: lambda.SystemLogLevel.WARN,
      logRetention: this.parameters.LogRetentionDays.valueAsNumber,
      environment: inferenceEnvironment({
        bucket: p('ModelBucketName'),
        // The publish step points each published version at its own bundle; $LATEST is never routed to.
        prefix: Fn.sub('models/${ModelName}/'),
        modelName: model,
        modelVersion: 'unpublished',
        table: p('PredictionTableName'),
        ttlDays: 90,
        logShards: 4,
        maxBatchRows: 1000,
        maxBodyBytes: 1_048_576,
        registryTable: p('RegistryTableName'),
        experimentTable: p('ExperimentTableName'),
      }),
    });
    const fn = this.inference.function;
    const cfnFunction = fn.node.defaultChild as lambda.CfnFunction;
    cfnFunction.reservedConcurrentExecutions = Fn.conditionIf(reserved.logicalId, p('ReservedConcurrency'), Fn.ref('AWS::NoValue')) as unknown as number;
    this.packaging(cfnFunction, image);
    iam.PermissionsBoundary.of(this.inference.role).apply(iam.ManagedPolicy.fromManagedPolicyArn(this, 'Boundary', p('PermissionsBoundaryArn')));

    // Every version of this model is under models/<name>/; the publish step moves MODEL_PREFIX within it.
    this.inference.allow(['s3:GetObject'], [modelBucket.arnForObjects(Fn.sub('models/${ModelName}/*'))]);
    this.inference.allow(['dynamodb:PutItem', 'dynamodb:BatchWriteItem'], [predictionTableArn]);
    // Shadow rollouts read the model's registry item; sticky experiments query the running ones and invoke
    // this function's other published version. A policy of its own: the function ARN in the role's default
    // policy would make the function depend on itself.
    const routing = new iam.Policy(this, 'RoutingPolicy', {
      statements: [
        new iam.PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [registryTableArn] }),
        new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: [experimentStatusIndexArn] }),
        new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [`${fn.functionArn}:*`] }),
      ],
    });
    routing.attachToRole(this.inference.role);
    const decrypt = new iam.Policy(this, 'BucketKeyPolicy', {
      statements: [
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [p('ModelBucketKeyArn')],
          conditions: { StringEquals: { 'kms:ViaService': Fn.sub('s3.${AWS::Region}.amazonaws.com') } },
        }),
      ],
    });
    decrypt.attachToRole(this.inference.role);
    (decrypt.node.defaultChild as iam.CfnPolicy).cfnOptions.condition = encrypted;

    this.liveAlias = new lambda.CfnAlias(this, 'LiveAlias', { functionName: fn.functionName, functionVersion: '$LATEST', name: LIVE_ALIAS_NAME });

    this.routes(serving, p);
    this.dashboard(deployment, model);
    this.acknowledge(fn);
  }

  /**
   * A model declared with `packaging: image` runs the base stack's inference image (the same handler, built on
   * Lambda's Node.js 22 base image): ImageUri instead of the zip's bucket and key, and no Handler or Runtime,
   * which the image's CMD and base image fix. A zip function's template has no PackageType at all, as before
   * the parameter existed: a PackageType change requires replacement, and CloudFormation compares template
   * properties, so even adding its default risks one.
   */
  private packaging(cfnFunction: lambda.CfnFunction, image: CfnCondition): void {
    const ifImage = (imageValue: unknown, zipValue: unknown) => Fn.conditionIf(image.logicalId, imageValue, zipValue);
    const zipCode = cfnFunction.code as lambda.CfnFunction.CodeProperty;
    cfnFunction.code = ifImage({ ImageUri: this.parameters.ImageUri.valueAsString }, { S3Bucket: zipCode.s3Bucket, S3Key: zipCode.s3Key }) as lambda.CfnFunction.CodeProperty;
    cfnFunction.packageType = ifImage('Image', Fn.ref('AWS::NoValue')).toString();
    cfnFunction.handler = ifImage(Fn.ref('AWS::NoValue'), cfnFunction.handler).toString();
    cfnFunction.runtime = ifImage(Fn.ref('AWS::NoValue'), cfnFunction.runtime).toString();
  }

  private declareParameters(): Record<ModelStackParameterName, CfnParameter> {
    const numberParameter = (id: string, description: string, min: number, max: number) =>
      new CfnParameter(this, id, { type: 'Number', description, minValue: min, maxValue: max });
    const special: Partial<Record<ModelStackParameterName, () => CfnParameter>> = {
      ModelName: () =>
        new CfnParameter(this, 'ModelName', {
          type: 'String',
          allowedPattern: '^[a-z0-9]+(-[a-z0-9]+)*$',
          maxLength: 40,
          description: 'The model: lower-case letters, digits and single dashes.',
        }),
      Serving: () =>
        new CfnParameter(this, 'Serving', {
          type: 'String',
          allowedValues: ['true', 'false'],
          default: 'true',
          description: "'false' removes the routes (before the stack is deleted).",
        }),
      MemorySize: () => numberParameter('MemorySize', 'Memory of the inference function in MB.', 128, 10_240),
      PackageType: () =>
        new CfnParameter(this, 'PackageType', {
          type: 'String',
          allowedValues: ['Zip', 'Image'],
          default: 'Zip',
          description: "'Image' runs the function from ImageUri; Lambda cannot change it once the function exists.",
        }),
      ImageUri: () => new CfnParameter(this, 'ImageUri', { type: 'String', default: '', description: "The deployment's inference image; empty when it built none." }),
      ReservedConcurrency: () =>
        new CfnParameter(this, 'ReservedConcurrency', { type: 'String', allowedPattern: '^[0-9]*$', default: '', description: 'Reserved concurrency; empty for none.' }),
      ModelBucketKeyArn: () => new CfnParameter(this, 'ModelBucketKeyArn', { type: 'String', default: '', description: "The model bucket's KMS key; empty for SSE-S3." }),
      LogLevel: () => new CfnParameter(this, 'LogLevel', { type: 'String', allowedValues: ['DEBUG', 'INFO', 'WARN', 'ERROR'], default: 'INFO' }),
      LogRetentionDays: () => new CfnParameter(this, 'LogRetentionDays', { type: 'Number', allowedValues: RETENTION_DAYS.map(String), default: 90 }),
    };
    return Object.fromEntries(MODEL_STACK_PARAMETER_NAMES.map((name) => [name, special[name]?.() ?? new CfnParameter(this, name, { type: 'String', minLength: 1 })])) as Record<
      ModelStackParameterName,
      CfnParameter
    >;
  }

  /** POST /v1/models/<m>/predict, POST /v2/models/<m>/infer, GET /v2/models/<m> (the alias), GET /v1/models/<m> (the registry view). */
  private routes(serving: CfnCondition, p: (name: ModelStackParameterName) => string): void {
    const aliasInvocation = Fn.sub('arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${LiveAlias}/invocations');
    const modelsInvocation = Fn.sub('arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${ModelsFunctionArn}/invocations');
    const resource = (id: string, parentId: string, pathPart: string) => {
      const r = new apigw.CfnResource(this, id, { restApiId: p('RestApiId'), parentId, pathPart });
      r.cfnOptions.condition = serving;
      return r;
    };
    const method = (id: string, httpMethod: 'GET' | 'POST', on: apigw.CfnResource, uri: string) => {
      const m = new apigw.CfnMethod(this, id, {
        restApiId: p('RestApiId'),
        resourceId: on.ref,
        httpMethod,
        // The key must be in a usage plan of the stage, and the authorizer must admit its plan to this route.
        authorizationType: 'CUSTOM',
        authorizerId: p('AuthorizerId'),
        apiKeyRequired: true,
        integration: { type: 'AWS_PROXY', integrationHttpMethod: 'POST', uri },
        ...(httpMethod === 'POST' ? { requestValidatorId: p('RequestValidatorId'), requestModels: { 'application/json': p('JsonObjectModelName') } } : {}),
      });
      m.cfnOptions.condition = serving;
      Validations.of(m).acknowledge({
        id: 'AwsSolutions-COG4',
        reason:
          "Clients are services identified by API keys, one usage plan per kind of client, admitted to their kind's routes by the deployment's Lambda authorizer; there are no end users, so no Cognito user pool.",
      });
      return m;
    };
    const v1Model = resource('V1Model', p('V1ModelsResourceId'), p('ModelName'));
    const v1Predict = resource('V1Predict', v1Model.ref, 'predict');
    const v2Model = resource('V2Model', p('V2ModelsResourceId'), p('ModelName'));
    const v2Infer = resource('V2Infer', v2Model.ref, 'infer');
    method('V1ModelGet', 'GET', v1Model, modelsInvocation);
    method('V1PredictPost', 'POST', v1Predict, aliasInvocation);
    method('V2ModelGet', 'GET', v2Model, aliasInvocation);
    method('V2InferPost', 'POST', v2Infer, aliasInvocation);
    // API Gateway may invoke the alias for these three methods only, from any stage of this API. Not under the
    // Serving condition: retiring removes the methods first, and the stage's deployment goes on calling the alias
    // until the next deployment without them; the permissions go with the stack, after that deployment.
    for (const [id, route] of [
      ['PredictPermission', 'POST/v1/models/${ModelName}/predict'],
      ['InferPermission', 'POST/v2/models/${ModelName}/infer'],
      ['MetadataPermission', 'GET/v2/models/${ModelName}'],
    ] as const) {
      new lambda.CfnPermission(this, id, {
        action: 'lambda:InvokeFunction',
        functionName: this.liveAlias.ref,
        principal: 'apigateway.amazonaws.com',
        sourceArn: Fn.sub(`arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${RestApiId}/*/${route}`),
      });
    }
  }

  /** One dashboard per model, every version: SEARCH over the `version` dimension, so it needs no update per version. */
  private dashboard(deployment: string, model: string): void {
    const search = (metric: string, stat: string, period = 60) =>
      new cloudwatch.MathExpression({
        expression: Fn.sub(`SEARCH('{\${Deployment},service,model,version} service="${SERVING_SERVICE}" model="\${ModelName}" MetricName="${metric}"', '${stat}', ${period})`),
        label: '',
        period: undefined,
        searchAccount: undefined,
        searchRegion: undefined,
      });
    const graph = (title: string, metric: string, stat: string) => new cloudwatch.GraphWidget({ title, left: [search(metric, stat)], width: 6, height: 6 });
    new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: Fn.join('-', [deployment, model]),
      widgets: [
        [
          new cloudwatch.TextWidget({ markdown: Fn.sub('## ${ModelName} — every version (${Deployment})'), width: 24, height: 1 }),
          graph('Predictions / min', 'Predictions', 'Sum'),
          graph('Errors / min', 'Errors', 'Sum'),
          graph('p99 latency (ms)', 'Latency', 'p99'),
          graph('Log fallbacks', 'LogFallbacks', 'Sum'),
        ],
        // Drift, estimated and realized quality per version, from the monitor's metrics (docs/monitoring.md).
        monitoringWidgets({ namespace: deployment, model }),
      ],
    });
  }

  private acknowledge(fn: lambda.Function): void {
    this.inference.acknowledgeWildcards(
      [`Resource::arn:<AWS::Partition>:s3:::<ModelBucketName>/models/<ModelName>/*`],
      "Read access is scoped to this model's prefix; the object keys (one folder per model version) are written later by the promotion pipeline.",
    );
    Validations.of(this.node.findChild('RoutingPolicy')).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
      reason: 'Sticky experiments and shadow mirroring invoke published versions of this same function; version numbers are assigned by the pipeline at run time.',
    });
  }
}

/**
 * The model stack's template, synthesized in its own app (cdk-nag's AwsSolutions and Serverless packs run on
 * it, as on the base stack): what the base stack publishes for the pipeline.
 */
export function synthesizeModelStackTemplate(options: { readonly nag?: boolean } = {}): Record<string, unknown> {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ModelServingStack(app, 'ModelStack');
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return app.synth().getStackByName(stack.stackName).template as Record<string, unknown>;
}
