import type { Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ModelApi, type ModelApiProps } from '../../lib/api/model-api';
import { ModelEndpoint } from '../../lib/serving/model-endpoint';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import { endpointDependencies, fastStack, thrownBy } from './support';

function build(models: string[], props: Partial<ModelApiProps> = {}): Stack {
  const stack = fastStack();
  const dependencies = endpointDependencies(stack);
  const endpoints = models.map(
    (modelName, i) => new ModelEndpoint(stack, `Endpoint${i}`, { ...dependencies, modelName }),
  );
  new ModelApi(stack, 'Api', { endpoints, ...props });
  return stack;
}

function synth(models: string[] = ['churn'], props: Partial<ModelApiProps> = {}): Template {
  return Template.fromStack(build(models, props));
}

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

/** "METHOD /full/path" for every method, rebuilt from the resource tree (no logical ids involved). */
function routes(template: Template): string[] {
  const resources = template.toJSON().Resources as Resources;
  const pathOf = (id: string): string => {
    const { PathPart, ParentId } = resources[id]!.Properties;
    return ParentId.Ref ? `${pathOf(ParentId.Ref)}/${PathPart}` : `/${PathPart}`;
  };
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::ApiGateway::Method')
    .map((m) => `${m.Properties.HttpMethod} ${pathOf(m.Properties.ResourceId.Ref)}`)
    .sort();
}

function logicalIdsOf(template: Template, type: string, props: object = {}): string[] {
  return Object.keys(template.findResources(type, { Properties: Match.objectLike(props) }));
}

/** A gateway response template with its $context / $util references filled in, parsed. */
function renderGatewayResponse(body: string): unknown {
  const filled = body
    .replace(/\$util\.escapeJavaScript\(([^)]*)\)/g, '$1')
    .replace(/\$context\.error\.messageString/g, '"Forbidden"')
    .replace(/\$context\.[A-Za-z.]+/g, 'value');
  return JSON.parse(filled);
}

describe('ModelApi', () => {
  const template = synth();

  it('serves each model on literal paths: v1 predict, v2 infer, v2 metadata', () => {
    expect(routes(template)).toEqual(['GET /v2/models/churn', 'POST /v1/models/churn/predict', 'POST /v2/models/churn/infer']);
    expect(routes(synth(['churn', 'fraud-score']))).toEqual([
      'GET /v2/models/churn',
      'GET /v2/models/fraud-score',
      'POST /v1/models/churn/predict',
      'POST /v1/models/fraud-score/predict',
      'POST /v2/models/churn/infer',
      'POST /v2/models/fraud-score/infer',
    ]);
  });

  it('proxies every method to the live alias and requires an API key', () => {
    const [alias] = logicalIdsOf(template, 'AWS::Lambda::Alias', { Name: 'live' });
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method'));
    expect(methods).toHaveLength(3);
    for (const method of methods) {
      expect(method.Properties).toMatchObject({ ApiKeyRequired: true, AuthorizationType: 'NONE' });
      expect(method.Properties.Integration).toMatchObject({ Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' });
      expect(JSON.stringify(method.Properties.Integration.Uri)).toContain(`{"Ref":"${alias}"}`);
    }
  });

  it('lets API Gateway invoke only the alias, once per method, from the deployed stage', () => {
    const [alias] = logicalIdsOf(template, 'AWS::Lambda::Alias', { Name: 'live' });
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'));
    expect(permissions).toHaveLength(3);
    for (const permission of permissions) {
      expect(permission.Properties).toMatchObject({
        Action: 'lambda:InvokeFunction',
        Principal: 'apigateway.amazonaws.com',
        FunctionName: { Ref: alias },
      });
      expect(JSON.stringify(permission.Properties.SourceArn)).toMatch(/\/(POST|GET)\/v[12]\/models\/churn/);
    }
  });

  it('validates POST bodies as JSON objects before invoking the function', () => {
    const validator = new Capture();
    const model = new Capture();
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      RequestValidatorId: { Ref: validator },
      RequestModels: { 'application/json': { Ref: model } },
    });
    const resources = template.toJSON().Resources as Resources;
    expect(resources[validator.asString()]?.Properties).toMatchObject({ ValidateRequestBody: true, ValidateRequestParameters: true });
    expect(resources[model.asString()]?.Properties).toMatchObject({
      ContentType: 'application/json',
      Schema: { type: 'object' },
    });
  });

  it('answers unknown routes with a JSON 404 that names the path', () => {
    const body = new Capture();
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'MISSING_AUTHENTICATION_TOKEN',
      StatusCode: '404',
      ResponseParameters: { 'gatewayresponse.header.Content-Type': "'application/json'" },
      ResponseTemplates: { 'application/json': body },
    });
    expect(body.asString()).toContain('$context.httpMethod $context.path');
    expect(renderGatewayResponse(body.asString())).toEqual({
      error: 'NotFoundError',
      message: 'no route value value',
      requestId: 'value',
    });
  });

  it('answers every other gateway error in JSON too', () => {
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX', 'BAD_REQUEST_BODY']) {
      const body = new Capture();
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        ResponseTemplates: { 'application/json': body },
      });
      expect(renderGatewayResponse(body.asString())).toMatchObject({ message: expect.any(String), requestId: 'value' });
    }
  });

  it('throttles per key through a usage plan bound to the stage, quota only when asked', () => {
    const stage = new Capture();
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 50, BurstLimit: 100 },
      Quota: Match.absent(),
      ApiStages: [Match.objectLike({ Stage: { Ref: stage } })],
    });
    expect(template.toJSON().Resources[stage.asString()].Type).toBe('AWS::ApiGateway::Stage');
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    template.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);

    synth(['churn'], {
      throttle: { rateLimit: 5, burstLimit: 10 },
      quota: { limit: 10_000, period: apigw.Period.DAY },
    }).hasResourceProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 5, BurstLimit: 10 },
      Quota: { Limit: 10_000, Period: 'DAY' },
    });
  });

  it('logs access as JSON, execution errors, metrics and traces on the stage, never bodies', () => {
    const format = new Capture();
    const group = new Capture();
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'api',
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: { 'Fn::GetAtt': [group, 'Arn'] }, Format: format },
      MethodSettings: [
        {
          HttpMethod: '*',
          ResourcePath: '/*',
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
          MetricsEnabled: true,
          ThrottlingRateLimit: 500,
          ThrottlingBurstLimit: 1000,
        },
      ],
    });
    expect(JSON.parse(format.asString())).toMatchObject({
      requestId: '$context.requestId',
      apiKeyId: '$context.identity.apiKeyId',
      status: '$context.status',
      integrationLatency: '$context.integrationLatency',
    });
    expect(template.toJSON().Resources[group.asString()]).toMatchObject({
      Type: 'AWS::Logs::LogGroup',
      Properties: { RetentionInDays: 90 },
    });
  });

  it('creates the execution log group API Gateway would otherwise create without retention', () => {
    const api = new Capture();
    const stageName = new Capture();
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: { 'Fn::Join': ['', ['API-Gateway-Execution-Logs_', { Ref: api }, '/', { Ref: stageName }]] },
      RetentionInDays: 90,
    });
    const resources = template.toJSON().Resources as Resources;
    expect(resources[api.asString()]?.Type).toBe('AWS::ApiGateway::RestApi');
    expect(resources[stageName.asString()]?.Type).toBe('AWS::ApiGateway::Stage');
  });

  it('sets the account-level logging role unless told another stack manages it', () => {
    template.resourceCountIs('AWS::ApiGateway::Account', 1);
    synth(['churn'], { manageAccountCloudWatchRole: false }).resourceCountIs('AWS::ApiGateway::Account', 0);
  });

  it('is a regional endpoint', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { EndpointConfiguration: { Types: ['REGIONAL'] } });
  });

  describe('fails when', () => {
    it('there is nothing to serve', () => {
      expect(thrownBy(() => synth([])).message).toContain('endpoints must hold at least one model endpoint, got: 0');
    });

    it('two endpoints serve the same model name', () => {
      const error = thrownBy(() => synth(['churn', 'churn']));
      expect(error).toBeInstanceOf(InvalidPropsError);
      expect(error.message).toContain('endpoints must serve distinct model names, got duplicates: ["churn"]');
    });

    it('throttles and quota are not usable numbers', () => {
      const error = thrownBy(() =>
        synth(['churn'], {
          stageName: 'prod stage',
          throttle: { rateLimit: -1, burstLimit: 2.5 },
          stageThrottle: { rateLimit: 100, burstLimit: 0 },
          quota: { limit: 0, period: apigw.Period.MONTH },
        }),
      ) as InvalidPropsError;
      expect(error.problems).toEqual([
        `stageName must be 1-64 letters, digits, '-' or '_', got: "prod stage"`,
        'throttle.rateLimit must be a positive number, got: -1',
        `throttle.burstLimit must be an integer between 1 and ${Number.MAX_SAFE_INTEGER}, got: 2.5`,
        `stageThrottle.burstLimit must be an integer between 1 and ${Number.MAX_SAFE_INTEGER}, got: 0`,
        `quota.limit must be an integer between 1 and ${Number.MAX_SAFE_INTEGER}, got: 0`,
      ]);
    });

    it('one key may go faster than the whole stage', () => {
      expect(thrownBy(() => synth(['churn'], { throttle: { rateLimit: 800, burstLimit: 900 } })).message).toContain(
        "throttle.rateLimit (per key) must not exceed the stage's rateLimit (500), got: 800",
      );
    });
  });
});
