// The one API of a deployment: the base routes, what model stacks attach their routes to (the /v1/models and
// /v2/models resources, the validator, the JsonObject model, the models function), keys per kind of client,
// the key authorizer and throttling, logs,
// JSON gateway errors, and prop validation.
import type { Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { ModelApi, type ModelApiProps } from '../../lib/api/model-api';
import { API_CLIENTS } from '../../lambdas/core/api-clients';
import { ModelRegistryTable } from '../../lib/storage/model-registry-table';
import { InvalidPropsError } from '../../lib/validation/prop-validation';
import type { CfnTemplate } from '../../local/template';
import { ACCOUNT, deployed, REGION } from './deployed';
import { fastStack, functionWithEntry, grants, roleOf, roleStatements, thrownBy } from './support';

function build(props: Partial<ModelApiProps> = {}, options: { feedback?: boolean } = {}): { stack: Stack; api: ModelApi; template: Template } {
  const stack = fastStack();
  const registry = new ModelRegistryTable(stack, 'Registry');
  const feedbackFunction = options.feedback
    ? new lambda.Function(stack, 'Feedback', { code: lambda.Code.fromInline('export const handler = () => {}'), handler: 'index.handler', runtime: lambda.Runtime.NODEJS_22_X })
    : undefined;
  const api = new ModelApi(stack, 'Api', { registryTable: registry.table, feedbackFunction, ...props });
  return { stack, api, template: Template.fromStack(stack) };
}

type Resources = CfnTemplate['Resources'];

/** "METHOD /full/path" for every method, rebuilt from the resource tree (no logical ids involved). */
function routes(template: Template): string[] {
  const resources = template.toJSON().Resources as Resources;
  const pathOf = (id: string): string => {
    const { PathPart, ParentId } = resources[id]?.Properties as { PathPart: string; ParentId: { Ref?: string } };
    return ParentId.Ref ? `${pathOf(ParentId.Ref)}/${PathPart}` : `/${PathPart}`;
  };
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::ApiGateway::Method')
    .map((m) => `${m.Properties?.HttpMethod} ${pathOf((m.Properties?.ResourceId as { Ref: string }).Ref)}`)
    .sort();
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
  const { stack, api, template } = build();
  const raw = template.toJSON() as CfnTemplate;

  it('serves the registry view of any model, GET /v1/models/{name}, and no model route of its own', () => {
    expect(routes(template)).toEqual(['GET /v1/models/{name}']);
    const withFeedback = build({}, { feedback: true }).template;
    expect(routes(withFeedback)).toEqual(['GET /v1/models/{name}', 'POST /v1/feedback']);
    // Labels are validated as JSON objects before they cost an invocation, like predictions.
    withFeedback.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      RequestValidatorId: Match.anyValue(),
      RequestModels: { 'application/json': Match.anyValue() },
    });
  });

  it("traces 1% of requests by an X-Ray sampling rule on its stage, named within X-Ray's 32 characters", () => {
    template.hasResourceProperties('AWS::XRay::SamplingRule', {
      SamplingRule: Match.objectLike({
        RuleName: `${stack.stackName}-api`,
        FixedRate: 0.01,
        ReservoirSize: 0,
        ServiceName: `${stack.stackName}/api`,
        ServiceType: 'AWS::ApiGateway::Stage',
      }),
    });
    template.hasResourceProperties('AWS::ApiGateway::Stage', { TracingEnabled: true });
    const long = build({ traceSampleRate: 0.2 });
    const rule = Object.values(long.template.findResources('AWS::XRay::SamplingRule'))[0]?.Properties?.SamplingRule as { RuleName: string; FixedRate: number };
    expect(rule.FixedRate).toBe(0.2);
    expect(rule.RuleName.length).toBeLessThanOrEqual(32);
  });

  it('names the REST API after its deployment, so two stages in one account are told apart', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { Name: stack.stackName });
  });

  it('exposes what model stacks attach their routes to: /v1/models, /v2/models, the validator and the JsonObject model', () => {
    const resources = raw.Resources;
    const path = (id: string): string => {
      const { PathPart, ParentId } = resources[id]?.Properties as { PathPart: string; ParentId: { Ref?: string } };
      return ParentId.Ref ? `${path(ParentId.Ref)}/${PathPart}` : `/${PathPart}`;
    };
    const idOf = (token: string) => (stack.resolve(token) as { Ref: string }).Ref;
    expect(path(idOf(api.v1Models.resourceId))).toBe('/v1/models');
    expect(path(idOf(api.v2Models.resourceId))).toBe('/v2/models');
    expect(resources[idOf(api.validator.requestValidatorId)]?.Properties).toMatchObject({ ValidateRequestBody: true, ValidateRequestParameters: true });
    // A model stack refers to the model by name: Ref of an AWS::ApiGateway::Model is its name.
    expect(resources[idOf(api.jsonObjectModel.modelId)]).toMatchObject({
      Type: 'AWS::ApiGateway::Model',
      Properties: { Name: 'JsonObject', ContentType: 'application/json', Schema: { type: 'object', $schema: 'http://json-schema.org/draft-04/schema#' } },
    });
  });

  it('lets API Gateway invoke the models function for GET on any path below /v1/models of the stage: the literal /v1/models/<m> of each model stack too', () => {
    const dev = deployed(raw, { stackName: 'modelgate-dev' });
    const models = functionWithEntry(raw, 'models');
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'))
      .map((p) => dev.resolve(p.Properties) as Record<string, string>)
      .filter((p) => p.FunctionName === dev.arn(models));
    const restApi = Object.keys(template.findResources('AWS::ApiGateway::RestApi'))[0] as string;
    expect(permissions).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: dev.arn(models),
        Principal: 'apigateway.amazonaws.com',
        SourceArn: `arn:aws:execute-api:${REGION}:${ACCOUNT}:${dev.ref(restApi)}/api/GET/v1/models/*`,
      },
    ]);
  });

  it('gives the models function read-only access to the registry', () => {
    const dev = deployed(raw, { stackName: 'modelgate-dev' });
    const registry = Object.keys(template.findResources('AWS::DynamoDB::Table'))[0] as string;
    const role = roleOf(raw, functionWithEntry(raw, 'models'));
    expect(grants(dev, roleStatements(raw, role)).filter((grant) => grant.startsWith('dynamodb:'))).toEqual([
      `dynamodb:GetItem on ${dev.arn(registry)}`,
      `dynamodb:Query on ${dev.arn(registry)}/index/bySequence`,
    ]);
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
    expect(renderGatewayResponse(body.asString())).toEqual({ error: 'NotFoundError', message: 'no route value value', requestId: 'value' });
  });

  it('says what is wrong with a missing key (401) and with a key of another kind of client (403), naming the route', () => {
    const messages: Record<string, unknown> = {};
    for (const [type, status] of [
      ['UNAUTHORIZED', '401'],
      ['ACCESS_DENIED', '403'],
    ] as const) {
      const body = new Capture();
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: type, StatusCode: status, ResponseTemplates: { 'application/json': body } });
      messages[type] = renderGatewayResponse(body.asString());
      if (type === 'ACCESS_DENIED') expect(body.asString()).toContain('$context.httpMethod $context.path');
    }
    expect(messages).toEqual({
      UNAUTHORIZED: { error: 'UnauthorizedError', message: expect.stringContaining('x-api-key header'), requestId: 'value' },
      ACCESS_DENIED: { error: 'ForbiddenError', message: expect.stringContaining('may not call value value'), requestId: 'value' },
    });
  });

  it('answers a body that is not a JSON object with a 400 naming the body and the reason, like the handlers', () => {
    const body = new Capture();
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'BAD_REQUEST_BODY', StatusCode: '400', ResponseTemplates: { 'application/json': body } });
    expect(renderGatewayResponse(body.asString())).toEqual({
      error: 'ValidationError',
      message: 'value',
      issues: [{ field: '(body)', reason: 'must be a JSON object: value' }],
      requestId: 'value',
    });
  });

  it('answers every other gateway error in JSON too', () => {
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX', 'BAD_REQUEST_BODY']) {
      const body = new Capture();
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: type, ResponseTemplates: { 'application/json': body } });
      expect(renderGatewayResponse(body.asString())).toMatchObject({ message: expect.any(String), requestId: 'value' });
    }
  });

  it('has one usage plan per kind of client, each bound to the stage with its own first key, throttled per key, quota only when asked', () => {
    const stage = new Capture();
    const plans = template.findResources('AWS::ApiGateway::UsagePlan');
    expect(
      Object.values(plans)
        .map((p) => p.Properties.UsagePlanName)
        .sort(),
    ).toEqual(API_CLIENTS.map((client) => `${stack.stackName}-${client}`).sort());
    template.allResourcesProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 50, BurstLimit: 100 },
      Quota: Match.absent(),
      ApiStages: [Match.objectLike({ Stage: { Ref: stage } })],
    });
    expect(raw.Resources[stage.asString()]?.Type).toBe('AWS::ApiGateway::Stage');
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 3);
    // Each key is in exactly one plan: API Gateway allows a key in one plan per stage, which is what tells the kinds apart.
    const planOfKey = Object.values(template.findResources('AWS::ApiGateway::UsagePlanKey')).map((k) => [k.Properties.KeyId.Ref, k.Properties.UsagePlanId.Ref] as const);
    expect(new Set(planOfKey.map(([key]) => key)).size).toBe(3);
    expect(new Set(planOfKey.map(([, plan]) => plan))).toEqual(new Set(Object.keys(plans)));
    for (const client of API_CLIENTS)
      expect(stack.resolve(api.apiKeys[client].keyId)).toEqual({
        Ref: planOfKey.find(([, plan]) => plan === (stack.resolve(api.usagePlans[client].usagePlanId) as { Ref: string }).Ref)?.[0],
      });

    build({ throttle: { rateLimit: 5, burstLimit: 10 }, quota: { limit: 10_000, period: apigw.Period.DAY } }).template.allResourcesProperties('AWS::ApiGateway::UsagePlan', {
      Throttle: { RateLimit: 5, BurstLimit: 10 },
      Quota: { Limit: 10_000, Period: 'DAY' },
    });
  });

  it('requires an API key and the key authorizer on every method', () => {
    const authorizer = (stack.resolve(api.authorizer.authorizerId) as { Ref: string }).Ref;
    for (const method of Object.values(build({}, { feedback: true }).template.findResources('AWS::ApiGateway::Method'))) {
      expect(method.Properties).toMatchObject({ ApiKeyRequired: true, AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizer } });
    }
  });

  it("authorizes by the key header, caches the answer per key for five minutes, and may read the usage plans' keys, nothing else", () => {
    const fn = new Capture();
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      IdentitySource: 'method.request.header.x-api-key',
      AuthorizerResultTtlInSeconds: 300,
      AuthorizerUri: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.objectLike({ 'Fn::GetAtt': [fn, 'Arn'] })])] }),
    });
    expect(fn.asString()).toBe(functionWithEntry(raw, 'api-key-authorizer'));
    const dev = deployed(raw, { stackName: 'modelgate-dev' });
    const authorizer = Object.keys(template.findResources('AWS::ApiGateway::Authorizer'))[0] as string;
    const restApi = Object.keys(template.findResources('AWS::ApiGateway::RestApi'))[0] as string;
    const invoke = Object.values(template.findResources('AWS::Lambda::Permission'))
      .map((p) => dev.resolve(p.Properties) as Record<string, string>)
      .filter((p) => p.FunctionName === dev.arn(fn.asString()));
    expect(invoke).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: dev.arn(fn.asString()),
        Principal: 'apigateway.amazonaws.com',
        SourceArn: `arn:aws:execute-api:${REGION}:${ACCOUNT}:${dev.ref(restApi)}/authorizers/${dev.ref(authorizer)}`,
      },
    ]);
    expect(grants(dev, roleStatements(raw, roleOf(raw, fn.asString()))).filter((grant) => !grant.startsWith('logs:') && !grant.startsWith('xray:'))).toEqual([
      `apigateway:GET on arn:aws:apigateway:${REGION}::/usageplans`,
      `apigateway:GET on arn:aws:apigateway:${REGION}::/usageplans/*/keys`,
    ]);
    expect(raw.Resources[fn.asString()]?.Properties?.Environment).toMatchObject({ Variables: { DEPLOYMENT_NAME: stack.stackName } });
  });

  it('logs access as JSON, execution errors, metrics and traces on the stage, never bodies', () => {
    const format = new Capture();
    const group = new Capture();
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'api',
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: { 'Fn::GetAtt': [group, 'Arn'] }, Format: format },
      MethodSettings: [
        { HttpMethod: '*', ResourcePath: '/*', LoggingLevel: 'ERROR', DataTraceEnabled: false, MetricsEnabled: true, ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
      ],
    });
    expect(JSON.parse(format.asString())).toMatchObject({
      requestId: '$context.requestId',
      apiKeyId: '$context.identity.apiKeyId',
      status: '$context.status',
      integrationLatency: '$context.integrationLatency',
    });
    expect(raw.Resources[group.asString()]).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 90 } });
  });

  it('creates the execution log group API Gateway would otherwise create without retention', () => {
    const restApi = new Capture();
    const stageName = new Capture();
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: { 'Fn::Join': ['', ['API-Gateway-Execution-Logs_', { Ref: restApi }, '/', { Ref: stageName }]] },
      RetentionInDays: 90,
    });
    expect(raw.Resources[restApi.asString()]?.Type).toBe('AWS::ApiGateway::RestApi');
    expect(raw.Resources[stageName.asString()]?.Type).toBe('AWS::ApiGateway::Stage');
  });

  it('sets the account-level logging role unless told another stack manages it, and keeps it when the stack goes (another stage may use it)', () => {
    const role = new Capture();
    template.hasResource('AWS::ApiGateway::Account', { Properties: { CloudWatchRoleArn: { 'Fn::GetAtt': [role, 'Arn'] } }, DeletionPolicy: 'Retain' });
    expect(raw.Resources[role.asString()]).toMatchObject({ Type: 'AWS::IAM::Role', DeletionPolicy: 'Retain' });
    build({ manageAccountCloudWatchRole: false }).template.resourceCountIs('AWS::ApiGateway::Account', 0);
  });

  it('is a regional endpoint', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { EndpointConfiguration: { Types: ['REGIONAL'] } });
  });

  describe('fails when', () => {
    it('stage name, throttles and quota are not usable, reporting every problem', () => {
      const error = thrownBy(() =>
        build({
          stageName: 'prod stage',
          throttle: { rateLimit: -1, burstLimit: 2.5 },
          stageThrottle: { rateLimit: 100, burstLimit: 0 },
          quota: { limit: 0, period: apigw.Period.MONTH },
          traceSampleRate: 1.5,
        }),
      ) as InvalidPropsError;
      expect(error).toBeInstanceOf(InvalidPropsError);
      expect(error.problems).toEqual([
        `stageName must be 1-64 letters, digits, '-' or '_', got: "prod stage"`,
        'throttle.rateLimit must be a positive number, got: -1',
        `throttle.burstLimit must be an integer between 1 and ${Number.MAX_SAFE_INTEGER}, got: 2.5`,
        `stageThrottle.burstLimit must be an integer between 1 and ${Number.MAX_SAFE_INTEGER}, got: 0`,
        `quota.limit must be an integer between 1 and ${Number.MAX_SAFE_INTEGER}, got: 0`,
        'traceSampleRate must be a share between 0 and 1, got: 1.5',
      ]);
    });

    it('one key may go faster than the whole stage', () => {
      expect(thrownBy(() => build({ throttle: { rateLimit: 800, burstLimit: 900 } })).message).toContain(
        "throttle.rateLimit (per key) must not exceed the stage's rateLimit (500), got: 800",
      );
    });
  });
});
