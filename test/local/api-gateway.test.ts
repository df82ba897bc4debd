// The local API Gateway over HTTP: a route is served only once a deployment of the stage includes it, a literal
// resource wins over a path parameter (without falling back), errors answer with the API's gateway responses,
// request bodies are checked against the method's model, API Gateway needs the function's permission, and
// requests sent while deployments replace the routing table all succeed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalApiGateway, startApiGateway, type ApiGatewayServer } from '../../local/api-gateway';
import { LocalIam } from '../../local/iam/local-iam';
import { LocalLambdaService } from '../../local/lambda-service';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const dir = mkdtempSync(join(tmpdir(), 'modelgate-apigw-'));
const gateway = new LocalApiGateway({ stateFile: join(dir, 'apigateway.json'), region: REGION, accountId: ACCOUNT });
const lambda = new LocalLambdaService({ region: REGION, accountId: ACCOUNT, stateFile: join(dir, 'lambda.json'), baseEnvironment: {}, onLogLine: () => undefined });
// API Gateway's permission to invoke is the function's resource policy, as local IAM evaluates it.
const iam = new LocalIam({ region: REGION, accountId: ACCOUNT, functionPolicy: (name, qualifier) => lambda.policy(name, qualifier), print: () => undefined });
let server: ApiGatewayServer;

const api = gateway.createRestApi('test');
const v1 = gateway.createResource(api.id, api.rootResourceId, 'v1');
const models = gateway.createResource(api.id, v1.id, 'models');
const churn = gateway.createResource(api.id, models.id, 'churn');
const byName = gateway.createResource(api.id, models.id, '{name}');
const validator = gateway.createRequestValidator(api.id, { name: 'body', validateRequestBody: true, validateRequestParameters: false });
gateway.createModel(api.id, 'JsonObject', 'application/json', { $schema: 'http://json-schema.org/draft-04/schema#', type: 'object' });
gateway.putGatewayResponse(api.id, 'MISSING_AUTHENTICATION_TOKEN', {
  statusCode: '404',
  responseParameters: { 'gatewayresponse.header.Content-Type': "'application/json'" },
  responseTemplates: { 'application/json': '{"error":"NotFoundError","message":"no route $context.httpMethod $context.path"}' },
});
gateway.putGatewayResponse(api.id, 'BAD_REQUEST_BODY', {
  statusCode: '400',
  responseTemplates: { 'application/json': '{"error":"ValidationError","message":"$util.escapeJavaScript($context.error.validationErrorString)"}' },
});
gateway.putGatewayResponse(api.id, 'DEFAULT_5XX', { responseTemplates: { 'application/json': '{"error":"$context.error.responseType","message":$context.error.messageString}' } });
const method = (httpMethod: string, extra: object = {}) => ({ httpMethod, apiKeyRequired: false, functionName: 'echo', qualifier: 'live', ...extra });
gateway.putMethod(api.id, churn.id, method('GET'));
gateway.putMethod(api.id, byName.id, method('POST', { requestValidatorId: validator, requestModels: { 'application/json': 'JsonObject' } }));
gateway.createDeployment(api.id, { stageName: 'dev' });

const call = async (path: string, init: RequestInit = {}) => {
  const response = await fetch(`${server.url}${path}`, init);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  lambda.createFunction({
    logicalId: 'Echo',
    name: 'echo',
    entry: resolve(import.meta.dirname, '../fixtures/handlers/echo.ts'),
    handlerExport: 'handler',
    environment: {},
    timeoutSeconds: 10,
    memoryMb: 128,
  });
  lambda.putAlias('echo', { name: 'live', functionVersion: lambda.publishVersion('echo').version, additionalVersionWeights: {} });
  lambda.addPermission('echo', 'live', {
    sid: 'api',
    action: 'lambda:InvokeFunction',
    principal: 'apigateway.amazonaws.com',
    sourceArn: `arn:aws:execute-api:${REGION}:${ACCOUNT}:${api.id}/dev/*/v1/models/*`,
  });
  server = await startApiGateway({
    gateway,
    lambda,
    canInvoke: (name, qualifier, sourceArn) => iam.apiGatewayMayInvoke(name, qualifier, sourceArn),
    region: REGION,
    accountId: ACCOUNT,
    host: '127.0.0.1',
    port: 0,
  });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await lambda.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('local API Gateway', () => {
  it('resolves a literal resource before a path parameter, and a literal without the method does not fall back', async () => {
    const literal = await call('/dev/v1/models/churn');
    expect(literal).toMatchObject({ status: 200, body: { resource: '/v1/models/churn', pathParameters: null } });
    const parameter = await call('/dev/v1/models/fraud', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(parameter).toMatchObject({ status: 200, body: { resource: '/v1/models/{name}', pathParameters: { name: 'fraud' } } });
    const noFallback = await call('/dev/v1/models/churn', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(noFallback).toEqual({ status: 404, body: { error: 'NotFoundError', message: 'no route POST /dev/v1/models/churn' } });
  });

  it('serves a method added to the API only once a deployment of the stage includes it', async () => {
    const predict = gateway.createResource(api.id, churn.id, 'predict');
    gateway.putMethod(api.id, predict.id, method('POST'));
    expect((await call('/dev/v1/models/churn/predict', { method: 'POST' })).status).toBe(404);
    gateway.createDeployment(api.id, { stageName: 'dev', description: 'with predict' });
    expect(await call('/dev/v1/models/churn/predict', { method: 'POST' })).toMatchObject({ status: 200, body: { resource: '/v1/models/churn/predict' } });
    expect((await call('/v1/models/churn/predict', { method: 'POST' })).status).toBe(200); // the first stage also at the root
    gateway.deleteResource(api.id, predict.id);
    expect((await call('/dev/v1/models/churn/predict', { method: 'POST' })).status).toBe(200); // still deployed
    gateway.createDeployment(api.id, { stageName: 'dev' });
    expect((await call('/dev/v1/models/churn/predict', { method: 'POST' })).status).toBe(404);
  });

  it("answers a body that fails the method's model with BAD_REQUEST_BODY, rendered from the API's template", async () => {
    const array = await call('/dev/v1/models/fraud', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1]' });
    expect(array.status).toBe(400);
    expect(array.body).toEqual({ error: 'ValidationError', message: '[instance type (array) does not match any allowed primitive type (allowed: ["object"])]' });
    const notJson = await call('/dev/v1/models/fraud', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(notJson).toEqual({ status: 400, body: { error: 'ValidationError', message: 'Invalid request body' } });
  });

  it("answers 500 from DEFAULT_5XX when the function's policy does not let API Gateway invoke it", async () => {
    const other = gateway.createResource(api.id, v1.id, 'feedback');
    gateway.putMethod(api.id, other.id, method('POST'));
    gateway.createDeployment(api.id, { stageName: 'dev' });
    expect(await call('/dev/v1/feedback', { method: 'POST' })).toEqual({ status: 500, body: { error: 'API_CONFIGURATION_ERROR', message: 'Internal server error' } });
  });

  it("answers API Gateway's own 403 on a stage of an API without gateway responses", async () => {
    const bare = gateway.createRestApi('bare');
    const item = gateway.createResource(bare.id, bare.rootResourceId, 'item');
    gateway.putMethod(bare.id, item.id, method('GET'));
    gateway.createDeployment(bare.id, { stageName: 'other' });
    expect(await call('/other/nothing')).toEqual({ status: 403, body: { message: 'Missing Authentication Token' } });
  });

  it('answers every request sent while deployments replace the routing table', async () => {
    let deploying = true;
    const deployments = (async () => {
      for (let i = 0; i < 40; i++) {
        gateway.createDeployment(api.id, { stageName: 'dev', description: `reload ${i}` });
        await new Promise((r) => setImmediate(r));
      }
      deploying = false;
    })();
    const statuses: number[] = [];
    while (deploying || statuses.length < 100) statuses.push((await call('/dev/v1/models/churn')).status);
    await deployments;
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });

  it('keeps APIs, deployments and stages across a restart', () => {
    const again = new LocalApiGateway({ stateFile: join(dir, 'apigateway.json'), region: REGION, accountId: ACCOUNT });
    expect(again.getRestApis().map((a) => a.id)).toContain(api.id);
    expect(again.routes().map((r) => `${r.method} ${r.resourcePath}`)).toEqual(expect.arrayContaining(['GET /v1/models/churn', 'POST /v1/models/{name}']));
    expect(again.getStage(api.id, 'dev').deploymentId).toBe(gateway.getStage(api.id, 'dev').deploymentId);
  });
});
