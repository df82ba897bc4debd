// The model stack: the template the base stack publishes and the pipeline creates one stack from per model.
// Read as synthesized (parameters, conditions, references) and as CloudFormation would resolve it for a model
// of a deployment (names, grants, routes, dashboard).
import { App } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { beforeAll, describe, expect, it } from 'vitest';
import { INFERENCE_VARIABLES, servingConfigFromEnv } from '../../lambdas/contracts/environment';
import { SERVING_SERVICE } from '../../lambdas/core/monitoring/alarms';
import { MODEL_STACK_PARAMETER_NAMES, TEMPLATE_BODY_LIMIT_BYTES } from '../../lambdas/contracts/model-stack';
import { MODEL_NAME_PATTERN } from '../../lambdas/core/pipeline/identity';
import { deploymentName, LIVE_ALIAS_NAME, modelStackName } from '../../lambdas/core/naming';
import { STAGES } from '../../lib/app/stage-config';
import { ModelServingStack, synthesizeModelStackTemplate } from '../../lib/serving/model-stack';
import { resolveParameters } from '../../local/cloudformation/parameters';
import type { CfnTemplate } from '../../local/template';
import { ACCOUNT, deployed, REGION, type DeployedStack } from './deployed';
import { acknowledgementsIn, acknowledgementsWithoutReason, actionsOf, grants, nagFindings, policyDocuments, roleOf, roleStatements, unusedAcknowledgements } from './support';

/** What the provision function passes for model `churn` of the dev deployment (the deployment's values are stand-ins). */
const PARAMETERS = {
  ModelName: 'churn',
  Serving: 'true',
  MemorySize: '1536',
  ReservedConcurrency: '',
  PackageType: 'Zip',
  Deployment: 'modelgate-dev',
  CodeBucket: 'code-bucket',
  CodeKey: 'inference-code.zip',
  ImageUri: '',
  ModelBucketName: 'model-bucket',
  ModelBucketKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/model-bucket-key`,
  PredictionTableName: 'prediction-log',
  RegistryTableName: 'registry',
  ExperimentTableName: 'experiments',
  RestApiId: 'rest-api-id',
  V1ModelsResourceId: 'v1-models-id',
  V2ModelsResourceId: 'v2-models-id',
  RequestValidatorId: 'validator-id',
  JsonObjectModelName: 'JsonObject',
  AuthorizerId: 'auth01',
  ModelsFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:modelgate-dev-models`,
  PermissionsBoundaryArn: `arn:aws:iam::${ACCOUNT}:policy/model-role-boundary`,
  LogLevel: 'DEBUG',
  LogRetentionDays: '30',
} as const;

let app: App;
let stack: ModelServingStack;
let template: Template;
let raw: CfnTemplate;
/** The template as CloudFormation resolves it for churn in dev. */
let churn: DeployedStack;
const resolvedAs = (parameters: Partial<Record<keyof typeof PARAMETERS, string>>) =>
  deployed(raw, {
    stackName: modelStackName(parameters.Deployment ?? PARAMETERS.Deployment, parameters.ModelName ?? PARAMETERS.ModelName),
    parameters: { ...PARAMETERS, ...parameters },
  });

beforeAll(() => {
  app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  stack = new ModelServingStack(app, 'ModelStack');
  template = Template.fromStack(stack);
  raw = template.toJSON() as CfnTemplate;
  churn = resolvedAs({});
});

const idsOfType = (d: DeployedStack, type: string) => d.created.filter((id) => d.template.Resources[id]?.Type === type);
const onlyOfType = (type: string): string => {
  const ids = Object.keys(template.findResources(type));
  expect(ids, type).toHaveLength(1);
  return ids[0] as string;
};

describe('ModelServingStack parameters', () => {
  it('are exactly the ones the pipeline passes (MODEL_STACK_PARAMETER_NAMES), in that order', () => {
    expect(Object.keys(raw.Parameters ?? {})).toEqual([...MODEL_STACK_PARAMETER_NAMES]);
  });

  it('admit the model names a declaration or manifest admits, and no other (pattern, 40 characters)', () => {
    const accepted = (name: string) => {
      try {
        resolveParameters(
          raw,
          Object.entries({ ...PARAMETERS, ModelName: name }).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
        );
        return true;
      } catch {
        return false;
      }
    };
    for (const name of ['churn', 'fraud-score', 'm1', 'a'.repeat(40), 'a'.repeat(41), 'Churn', 'fraud--score', '-churn', 'churn-', 'fraud_score', 'churn/v1', '']) {
      expect(accepted(name), name).toBe(MODEL_NAME_PATTERN.test(name) && name.length <= 40);
    }
  });

  it('type and bound every setting: Serving true|false (default true), Lambda memory, optional concurrency and bucket key, log settings', () => {
    const parameters = raw.Parameters ?? {};
    expect(parameters.Serving).toMatchObject({ Type: 'String', AllowedValues: ['true', 'false'], Default: 'true' });
    expect(parameters.MemorySize).toMatchObject({ Type: 'Number', MinValue: 128, MaxValue: 10_240 });
    expect(parameters.ReservedConcurrency).toMatchObject({ Type: 'String', AllowedPattern: '^[0-9]*$', Default: '' });
    expect(parameters.ModelBucketKeyArn).toMatchObject({ Type: 'String', Default: '' });
    expect(parameters.PackageType).toMatchObject({ Type: 'String', AllowedValues: ['Zip', 'Image'], Default: 'Zip' });
    expect(parameters.ImageUri).toMatchObject({ Type: 'String', Default: '' });
    expect(parameters.LogLevel).toMatchObject({ Type: 'String', AllowedValues: ['DEBUG', 'INFO', 'WARN', 'ERROR'], Default: 'INFO' });
    // CloudWatch Logs' retention values only (PutRetentionPolicy refuses any other): the ones CDK knows, "never" aside.
    const retentions = Object.values(RetentionDays).filter((days) => typeof days === 'number' && days !== RetentionDays.INFINITE);
    expect(parameters.LogRetentionDays).toEqual({ Type: 'Number', Default: RetentionDays.THREE_MONTHS, AllowedValues: retentions.map(String) });
    // Every deployment setting is required: an empty one would name nothing.
    const required = MODEL_STACK_PARAMETER_NAMES.filter(
      (name) => !['Serving', 'MemorySize', 'ReservedConcurrency', 'PackageType', 'ImageUri', 'ModelBucketKeyArn', 'LogLevel', 'LogRetentionDays', 'ModelName'].includes(name),
    );
    for (const name of required) expect(parameters[name], name).toEqual({ Type: 'String', MinLength: 1 });
  });

  it('are checked by CloudFormation before anything is created: every problem a bad value can have', () => {
    const failure = (overrides: Record<string, string>) => {
      try {
        resolveParameters(
          raw,
          Object.entries({ ...PARAMETERS, ...overrides }).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
        );
        return 'accepted';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(failure({ Serving: 'yes' })).toBe("Parameter 'Serving' must be one of AllowedValues");
    expect(failure({ MemorySize: '64' })).toBe("Parameter 'MemorySize' must be a number not less than 128");
    expect(failure({ ReservedConcurrency: '-1' })).toBe("Parameter 'ReservedConcurrency' failed to satisfy constraint: must match pattern ^[0-9]*$");
    expect(failure({ LogRetentionDays: '45' })).toBe("Parameter 'LogRetentionDays' must be one of AllowedValues");
    expect(failure({ PackageType: 'image' })).toBe("Parameter 'PackageType' must be one of AllowedValues");
    expect(failure({ CodeKey: '' })).toBe("Parameter 'CodeKey' must contain at least 1 characters");
    expect(failure({ ReservedConcurrency: '10', ModelBucketKeyArn: '' })).toBe('accepted');
  });
});

describe('ModelServingStack inference function', () => {
  it("is named <Deployment>-model-<ModelName>, within Lambda's 64 characters for the longest deployment and model name", () => {
    const fn = onlyOfType('AWS::Lambda::Function');
    expect(churn.ref(fn)).toBe('modelgate-dev-model-churn');
    for (const stage of STAGES) {
      const name = resolvedAs({ Deployment: deploymentName(stage), ModelName: 'm'.repeat(40) }).ref(fn);
      expect(name, stage).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    }
  });

  it('runs the inference entry from the code the base stack published, memory from its parameter, Node.js 22 on arm64', () => {
    template.hasResource('AWS::Lambda::Function', {
      Metadata: { 'modelgate:entry': 'lambdas/handlers/inference.ts' },
      Properties: Match.objectLike({ MemorySize: { Ref: 'MemorySize' }, Architectures: ['arm64'], Timeout: 30, TracingConfig: { Mode: 'Active' } }),
    });
    const fn = onlyOfType('AWS::Lambda::Function');
    const zip = churn.resolve(raw.Resources[fn]?.Properties) as Record<string, unknown>;
    expect(zip).toMatchObject({ Code: { S3Bucket: PARAMETERS.CodeBucket, S3Key: PARAMETERS.CodeKey }, Runtime: 'nodejs22.x', Handler: 'index.handler' });
    // No PackageType at all: a zip function's template stays as it was before the parameter existed (a change of
    // PackageType, even to its default, replaces the function).
    expect(zip).not.toHaveProperty('PackageType');
  });

  it("runs the base stack's inference image instead under PackageType=Image: ImageUri, and no Code in S3, Handler or Runtime", () => {
    const fn = onlyOfType('AWS::Lambda::Function');
    expect(raw.Conditions?.PackagedAsImage).toEqual({ 'Fn::Equals': [{ Ref: 'PackageType' }, 'Image'] });
    const imageUri = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/cdk-hnb659fds-container-assets-${ACCOUNT}-${REGION}:${'a'.repeat(64)}`;
    const image = resolvedAs({ PackageType: 'Image', ImageUri: imageUri }).resolve(raw.Resources[fn]?.Properties) as Record<string, unknown>;
    expect(image).toMatchObject({ PackageType: 'Image', Code: { ImageUri: imageUri }, Architectures: ['arm64'], MemorySize: '1536' });
    expect(Object.keys(image.Code as object)).toEqual(['ImageUri']);
    expect(image).not.toHaveProperty('Handler');
    expect(image).not.toHaveProperty('Runtime');
  });

  it('reserves concurrency only when ReservedConcurrency is given', () => {
    const fn = onlyOfType('AWS::Lambda::Function');
    const properties = (parameters: Partial<Record<keyof typeof PARAMETERS, string>>) => resolvedAs(parameters).resolve(raw.Resources[fn]?.Properties) as Record<string, unknown>;
    expect(properties({ ReservedConcurrency: '' })).not.toHaveProperty('ReservedConcurrentExecutions');
    expect(properties({ ReservedConcurrency: '5' })).toMatchObject({ ReservedConcurrentExecutions: '5', MemorySize: '1536' });
  });

  it('sets the inference variables (INFERENCE_VARIABLES, the packed file aside) that the handler reads back as its serving config', () => {
    const fn = onlyOfType('AWS::Lambda::Function');
    const variables = churn.resolve((raw.Resources[fn]?.Properties?.Environment as { Variables: unknown }).Variables) as Record<string, string>;
    // The packed file names one published version's bundle: the pipeline's publish step sets it per version.
    const inference = Object.values(INFERENCE_VARIABLES).filter((name) => name !== INFERENCE_VARIABLES.packedFile);
    expect(Object.keys(variables).sort()).toEqual([...inference, 'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_SERVICE_NAME'].sort());
    expect(servingConfigFromEnv(variables)).toMatchObject({
      bucket: 'model-bucket',
      prefix: 'models/churn/',
      table: 'prediction-log',
      metricsNamespace: 'modelgate-dev',
      serviceName: SERVING_SERVICE,
    });
    expect(variables).toMatchObject({ MODEL_NAME: 'churn', REGISTRY_TABLE: 'registry', EXPERIMENT_TABLE: 'experiments', POWERTOOLS_LOG_LEVEL: 'DEBUG' });
  });

  it("keeps only warnings of Lambda's own lines (no START/END/REPORT per prediction), in JSON", () => {
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: Match.objectLike({ LogFormat: 'JSON', SystemLogLevel: 'WARN' }) });
  });

  it('logs to a group of its own, with the retention the deployment asks for and no fixed name', () => {
    const group = new Capture();
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: group } } });
    expect(raw.Resources[group.asString()]).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: { Ref: 'LogRetentionDays' } } });
    expect(raw.Resources[group.asString()]?.Properties).not.toHaveProperty('LogGroupName');
  });
});

describe('ModelServingStack role', () => {
  const role = () => roleOf(raw, onlyOfType('AWS::Lambda::Function'));

  it('carries the permissions boundary the deployment passes, and no managed policy', () => {
    expect(raw.Resources[role()]?.Properties).toMatchObject({ PermissionsBoundary: { Ref: 'PermissionsBoundaryArn' } });
    expect(raw.Resources[role()]?.Properties).not.toHaveProperty('ManagedPolicyArns');
  });

  it("may read its own model's bundles, write predictions (only), read the registry and experiments, invoke its own versions", () => {
    const fn = onlyOfType('AWS::Lambda::Function');
    const logGroup = new Capture();
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: logGroup } } });
    const functionArn = churn.arn(fn);
    expect(grants(churn, roleStatements(raw, role()))).toEqual(
      [
        `logs:CreateLogStream on ${churn.arn(logGroup.asString())}`,
        `logs:PutLogEvents on ${churn.arn(logGroup.asString())}`,
        'xray:PutTraceSegments on *',
        'xray:PutTelemetryRecords on *',
        's3:GetObject on arn:aws:s3:::model-bucket/models/churn/*',
        `dynamodb:PutItem on arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/prediction-log`,
        `dynamodb:BatchWriteItem on arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/prediction-log`,
        `dynamodb:GetItem on arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/registry`,
        `dynamodb:Query on arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/experiments/index/byStatus`,
        `lambda:InvokeFunction on ${functionArn}:*`,
        `kms:Decrypt on ${PARAMETERS.ModelBucketKeyArn} if {"StringEquals":{"kms:ViaService":"s3.${REGION}.amazonaws.com"}}`,
      ].sort(),
    );
    expect(functionArn).toBe(`arn:aws:lambda:${REGION}:${ACCOUNT}:function:modelgate-dev-model-churn`);
  });

  it('is granted no key when the bucket uses SSE-S3', () => {
    const sseS3 = resolvedAs({ ModelBucketKeyArn: '' });
    const actions = roleStatements(raw, role(), sseS3.created).flatMap(actionsOf);
    expect(actions).not.toContain('kms:Decrypt');
    expect(actions).toContain('dynamodb:PutItem');
  });

  it('grants no wildcard action', () => {
    const actions = policyDocuments(raw).flatMap((document) => document.statements.flatMap(actionsOf));
    expect(actions.length).toBeGreaterThan(10);
    expect(actions.filter((action) => action.includes('*'))).toEqual([]);
  });
});

describe('ModelServingStack live alias and routes', () => {
  it("creates the live alias on $LATEST without routing, and no version: the pipeline's routing function is its only writer afterwards", () => {
    template.resourceCountIs('AWS::Lambda::Alias', 1);
    template.resourceCountIs('AWS::Lambda::Version', 0);
    template.hasResourceProperties('AWS::Lambda::Alias', {
      Name: LIVE_ALIAS_NAME,
      FunctionName: { Ref: onlyOfType('AWS::Lambda::Function') },
      FunctionVersion: '$LATEST',
      RoutingConfig: Match.absent(),
      ProvisionedConcurrencyConfig: Match.absent(),
    });
  });

  /** "METHOD /path -> target" of every method CloudFormation creates, rebuilt from the resources and their parents. */
  function routes(d: DeployedStack): string[] {
    const parents: Record<string, string> = { [PARAMETERS.V1ModelsResourceId]: '/v1/models', [PARAMETERS.V2ModelsResourceId]: '/v2/models' };
    const pathOf = (id: string): string => {
      const { ParentId, PathPart } = d.template.Resources[id]?.Properties as { ParentId: { Ref: string }; PathPart: unknown };
      const parent = ParentId.Ref in d.template.Resources ? pathOf(ParentId.Ref) : parents[d.text(ParentId)];
      return `${parent}/${d.text(PathPart)}`;
    };
    return idsOfType(d, 'AWS::ApiGateway::Method')
      .map((id) => {
        const method = d.template.Resources[id]?.Properties as { HttpMethod: string; ResourceId: { Ref: string }; Integration: { Uri: unknown } };
        const target = /functions\/(.+)\/invocations$/.exec(d.text(method.Integration.Uri))?.[1];
        return `${method.HttpMethod} ${pathOf(method.ResourceId.Ref)} -> ${target}`;
      })
      .sort();
  }

  it('routes predict, infer and v2 metadata to the live alias, and GET /v1/models/<m> to the registry view (the models function)', () => {
    const alias = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:modelgate-dev-model-churn:live`;
    expect(routes(churn)).toEqual([
      `GET /v1/models/churn -> ${PARAMETERS.ModelsFunctionArn}`,
      `GET /v2/models/churn -> ${alias}`,
      `POST /v1/models/churn/predict -> ${alias}`,
      `POST /v2/models/churn/infer -> ${alias}`,
    ]);
  });

  it("proxies every method (AWS_PROXY) with an API key and the deployment's key authorizer required, on the deployment's API", () => {
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
    expect(methods).toHaveLength(4);
    for (const method of methods) {
      expect(method.Properties).toMatchObject({
        RestApiId: { Ref: 'RestApiId' },
        ApiKeyRequired: true,
        AuthorizationType: 'CUSTOM',
        AuthorizerId: { Ref: 'AuthorizerId' },
        Integration: { Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' },
      });
    }
  });

  it("validates POST bodies with the deployment's validator and JsonObject model, and leaves GETs alone", () => {
    const posts = Object.values(template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'POST' } }));
    expect(posts).toHaveLength(2);
    for (const post of posts) {
      expect(post.Properties).toMatchObject({ RequestValidatorId: { Ref: 'RequestValidatorId' }, RequestModels: { 'application/json': { Ref: 'JsonObjectModelName' } } });
    }
    for (const get of Object.values(template.findResources('AWS::ApiGateway::Method', { Properties: { HttpMethod: 'GET' } }))) {
      expect(get.Properties).not.toHaveProperty('RequestValidatorId');
    }
  });

  it('puts every route under the Serving condition; Serving=false takes them out and keeps the function, alias and invoke permissions', () => {
    const serving = new Capture();
    template.hasResource('AWS::ApiGateway::Method', { Condition: serving });
    for (const type of ['AWS::ApiGateway::Method', 'AWS::ApiGateway::Resource']) {
      for (const resource of Object.values(template.findResources(type))) expect(resource.Condition, type).toBe(serving.asString());
    }
    expect(raw.Conditions?.[serving.asString()]).toEqual({ 'Fn::Equals': [{ Ref: 'Serving' }, 'true'] });

    const typesCreated = (d: DeployedStack) => d.created.map((id) => d.template.Resources[id]?.Type).sort();
    const retiring = resolvedAs({ Serving: 'false' });
    expect(routes(retiring)).toEqual([]);
    expect(typesCreated(retiring)).toEqual(typesCreated(churn).filter((type) => !type?.startsWith('AWS::ApiGateway::')));
    // The permissions outlive the methods: the stage's current deployment keeps calling the alias until the
    // pipeline deploys the stage without them, then deletes the stack.
    expect(idsOfType(retiring, 'AWS::Lambda::Permission')).toHaveLength(3);
  });

  it("lets API Gateway invoke the alias only, for exactly the three alias routes, from any stage of the deployment's API", () => {
    const permissions = idsOfType(churn, 'AWS::Lambda::Permission').map((id) => churn.resolve(raw.Resources[id]?.Properties) as Record<string, string>);
    const alias = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:modelgate-dev-model-churn:live`;
    expect(permissions.sort((a, b) => String(a.SourceArn).localeCompare(String(b.SourceArn)))).toEqual(
      ['GET/v2/models/churn', 'POST/v1/models/churn/predict', 'POST/v2/models/churn/infer'].map((route) => ({
        Action: 'lambda:InvokeFunction',
        Principal: 'apigateway.amazonaws.com',
        FunctionName: alias,
        SourceArn: `arn:aws:execute-api:${REGION}:${ACCOUNT}:rest-api-id/*/${route}`,
      })),
    );
  });
});

describe('ModelServingStack dashboard and template', () => {
  it("has a dashboard named <Deployment>-<ModelName> charting every version of the model in the deployment's namespace", () => {
    const id = onlyOfType('AWS::CloudWatch::Dashboard');
    const dashboard = churn.resolve(raw.Resources[id]?.Properties) as { DashboardName: string; DashboardBody: string };
    expect(dashboard.DashboardName).toBe('modelgate-dev-churn');
    const body = JSON.parse(dashboard.DashboardBody) as { widgets: { type: string; properties: { region?: string; metrics?: [{ expression: string }][] } }[] };
    const expressions = body.widgets.flatMap((w) => w.properties.metrics ?? []).map(([metric]) => metric.expression);
    expect(expressions.slice(0, 4)).toEqual(
      ['Predictions', 'Errors', 'Latency', 'LogFallbacks'].map((metric) =>
        expect.stringContaining(`SEARCH('{modelgate-dev,service,model,version} service="inference" model="churn" MetricName="${metric}"'`),
      ),
    );
    // The monitor's metrics (lib/monitoring/monitoring-widgets.ts): drift, estimated and realized quality, every version.
    const monitor = expressions.slice(4).map((e) => /MetricName="(\w+)" service="monitor" model="churn"', 'Maximum', 300\)$/.exec(e)?.[1]);
    expect(monitor).toEqual(expect.arrayContaining(['DriftShare', 'EstimatedRocAuc', 'RocAuc', 'EstimatedRocAucDegradation']));
    expect(monitor).not.toContain(undefined);
    expect(body.widgets.filter((w) => w.type === 'metric').every((w) => w.properties.region === REGION)).toBe(true);
  });

  it("stays under CloudFormation's TemplateBody limit, with room to grow", () => {
    const bytes = Buffer.byteLength(JSON.stringify(synthesizeModelStackTemplate({ nag: false })));
    console.log(`model stack template: ${bytes} bytes of ${TEMPLATE_BODY_LIMIT_BYTES}`);
    expect(bytes).toBeLessThan(TEMPLATE_BODY_LIMIT_BYTES / 2);
  });

  it('is what synthesizeModelStackTemplate() publishes: no Rules, no bootstrap version, no assets of its own', () => {
    expect(synthesizeModelStackTemplate({ nag: false })).toEqual(raw);
    expect(raw).not.toHaveProperty('Rules');
    expect(raw.Parameters).not.toHaveProperty('BootstrapVersion');
    expect(JSON.stringify(raw)).not.toContain('cdk-hnb659fds');
    expect(app.synth().getStackArtifact(stack.artifactId).assets).toEqual([]);
  });

  describe('cdk-nag (AwsSolutions + Serverless)', () => {
    it('reports no unacknowledged error or warning', () => {
      expect(nagFindings(app)).toEqual([]);
    });

    it('acknowledges each finding with a reason, and nothing that is not found', () => {
      expect(acknowledgementsIn(app).length).toBeGreaterThan(0);
      expect(acknowledgementsWithoutReason(app)).toEqual([]);
      expect(unusedAcknowledgements(app)).toEqual([]);
    });
  });
});
