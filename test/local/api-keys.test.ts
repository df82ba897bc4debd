// API keys as API Gateway enforces them, and the deployment's key authorizer on top: a method that requires a key
// refuses a missing, unknown, disabled or other stage's key with API Gateway's own 403 and hands the accepted key's
// id to the function; the real authorizer handler (lambdas/handlers/api-key-authorizer.ts), running in the local
// Lambda service and reading the usage plans through the local API Gateway API, admits each kind of key to its
// own routes only, and API Gateway keeps its answer per key.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { UsagePlans } from '../../lambdas/adapters/usage-plans';
import { API_CLIENTS, type ApiClient } from '../../lambdas/core/api-clients';
import { usagePlanName } from '../../lambdas/core/naming';
import { KeyDirectory } from '../../lambdas/use-cases/authorize-api-key';
import { ApiGatewayError, LocalApiGateway, startApiGateway, type ApiGatewayServer } from '../../local/api-gateway';
import { startApiGatewayApi, type ApiGatewayApiServer } from '../../local/api-gateway-api';
import { LOCAL_CREDENTIALS } from '../../local/aws-clients';
import { LocalIam } from '../../local/iam/local-iam';
import { LocalLambdaService } from '../../local/lambda-service';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const DEPLOYMENT = 'modelgate-keys';
const dir = mkdtempSync(join(tmpdir(), 'modelgate-keys-'));
const gateway = new LocalApiGateway({ stateFile: join(dir, 'apigateway.json'), region: REGION, accountId: ACCOUNT });
const logLines: string[] = [];
const lambda = new LocalLambdaService({
  region: REGION,
  accountId: ACCOUNT,
  stateFile: join(dir, 'lambda.json'),
  baseEnvironment: {},
  onLogLine: (_fn, _version, line) => logLines.push(line),
});
const iam = new LocalIam({ region: REGION, accountId: ACCOUNT, functionPolicy: (name, qualifier) => lambda.policy(name, qualifier), print: () => undefined });
let server: ApiGatewayServer;
let controlPlane: ApiGatewayApiServer;

const api = gateway.createRestApi('keys');
const authorizerId = gateway.createAuthorizer(api.id, { name: 'api-keys', functionName: 'authorizer', identitySources: ['method.request.header.x-api-key'], ttlSeconds: 300 });
const method = (httpMethod: string, authorized: boolean) => ({
  httpMethod,
  apiKeyRequired: true,
  functionName: 'echo',
  qualifier: 'live',
  ...(authorized ? { authorizationType: 'CUSTOM' as const, authorizerId } : {}),
});
const resource = (path: string) =>
  path
    .split('/')
    .filter(Boolean)
    .reduce(
      (parent, part) => gateway.getResources(api.id).find((r) => r.parentId === parent && r.pathPart === part)?.id ?? gateway.createResource(api.id, parent, part).id,
      api.rootResourceId,
    );
/** The routes of each kind of client, and one method that requires a key without the authorizer. */
const ROUTES: Readonly<Record<ApiClient, readonly (readonly [string, string])[]>> = {
  predict: [
    ['POST', '/v1/models/churn/predict'],
    ['GET', '/v2/models/churn'],
  ],
  feedback: [['POST', '/v1/feedback']],
  events: [
    ['POST', '/v1/events'],
    ['GET', '/v1/experiments'],
  ],
};
for (const [httpMethod, path] of Object.values(ROUTES).flat()) gateway.putMethod(api.id, resource(path), method(httpMethod, true));
gateway.putMethod(api.id, resource('/keyed'), method('GET', false));
gateway.createDeployment(api.id, { stageName: 'dev' });

const plans = Object.fromEntries(
  API_CLIENTS.map((client) => [client, gateway.createUsagePlan({ name: usagePlanName(DEPLOYMENT, client), apiStages: [{ apiId: api.id, stage: 'dev' }] })]),
);
const keys = Object.fromEntries(
  API_CLIENTS.map((client) => {
    const key = gateway.createApiKey({ name: `${client}-key`, enabled: true, stageKeys: [] });
    gateway.addUsagePlanKey(plans[client]!.id, key.id);
    return [client, key];
  }),
) as Record<ApiClient, ReturnType<LocalApiGateway['createApiKey']>>;
const disabled = gateway.createApiKey({ name: 'disabled', enabled: false, stageKeys: [] });
gateway.addUsagePlanKey(plans.predict!.id, disabled.id);
const otherStage = gateway.createApiKey({ name: 'other-stage', enabled: true, stageKeys: [] });
gateway.addUsagePlanKey(gateway.createUsagePlan({ name: 'other', apiStages: [{ apiId: api.id, stage: 'prod' }] }).id, otherStage.id);

const call = async (httpMethod: string, path: string, key?: string) => {
  const response = await fetch(`${server.url}/dev${path}`, {
    method: httpMethod,
    headers: { 'content-type': 'application/json', ...(key !== undefined ? { 'x-api-key': key } : {}) },
    ...(httpMethod === 'POST' ? { body: '{}' } : {}),
  });
  return { status: response.status, errorType: response.headers.get('x-amzn-errortype'), body: (await response.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  controlPlane = await startApiGatewayApi({ gateway, host: '127.0.0.1' });
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
    sourceArn: `arn:aws:execute-api:${REGION}:${ACCOUNT}:${api.id}/*`,
  });
  lambda.createFunction({
    logicalId: 'Authorizer',
    name: 'authorizer',
    entry: resolve(import.meta.dirname, '../../lambdas/handlers/api-key-authorizer.ts'),
    handlerExport: 'handler',
    environment: {
      DEPLOYMENT_NAME: DEPLOYMENT,
      AWS_ENDPOINT_URL_API_GATEWAY: controlPlane.endpoint,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    },
    timeoutSeconds: 10,
    memoryMb: 256,
  });
  lambda.addPermission('authorizer', undefined, {
    sid: 'api',
    action: 'lambda:InvokeFunction',
    principal: 'apigateway.amazonaws.com',
    sourceArn: `arn:aws:execute-api:${REGION}:${ACCOUNT}:${api.id}/authorizers/${authorizerId}`,
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
  await controlPlane?.close();
  await lambda.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('API keys, as API Gateway enforces them', () => {
  it("refuses a missing, unknown, disabled or other stage's key with API Gateway's own 403, and passes the accepted key's id to the function", async () => {
    for (const key of [undefined, 'no-such-key', disabled.value, otherStage.value]) {
      expect(await call('GET', '/keyed', key), String(key)).toEqual({ status: 403, errorType: 'ForbiddenException', body: { message: 'Forbidden' } });
    }
    const accepted = await call('GET', '/keyed', keys.feedback.value);
    expect(accepted).toMatchObject({ status: 200, body: { apiKeyId: keys.feedback.id, apiKey: keys.feedback.value, authorizer: null } });
  });

  it('allows a key in one usage plan per API stage only', () => {
    expect(() => gateway.addUsagePlanKey(plans.feedback!.id, keys.predict.id)).toThrow(ApiGatewayError);
    expect(() => gateway.addUsagePlanKey(plans.feedback!.id, keys.predict.id)).toThrow(/same API stage/);
  });
});

describe('the key authorizer', () => {
  it("admits each kind of key to its own routes and refuses it on every other kind's, before the function runs", async () => {
    for (const client of API_CLIENTS) {
      for (const [routeClient, routes] of Object.entries(ROUTES)) {
        for (const [httpMethod, path] of routes) {
          const answer = await call(httpMethod, path, keys[client].value);
          if (routeClient === client) {
            expect(answer, `${client} key on ${httpMethod} ${path}`).toMatchObject({
              status: 200,
              body: { apiKeyId: keys[client].id, authorizer: { principalId: keys[client].id, client } },
            });
          } else {
            expect(answer, `${client} key on ${httpMethod} ${path}`).toEqual({
              status: 403,
              errorType: 'AccessDeniedException',
              body: { message: 'User is not authorized to access this resource' },
            });
          }
        }
      }
    }
  });

  it('answers 401 without a key (its identity source), without invoking the authorizer', async () => {
    const before = logLines.length;
    expect(await call('POST', '/v1/feedback')).toEqual({ status: 401, errorType: 'UnauthorizedException', body: { message: 'Unauthorized' } });
    expect(logLines.length).toBe(before);
  });

  it("denies a key in none of the deployment's plans, and API Gateway keeps that answer: the authorizer runs once per key", async () => {
    const denial = (line: string) => line.includes('API key in no usage plan');
    const before = logLines.filter(denial).length;
    for (let i = 0; i < 3; i++) {
      expect(await call('POST', '/v1/events', 'guessed-key-0123456789')).toEqual({
        status: 403,
        errorType: 'AccessDeniedException',
        body: { message: 'User is not authorized to access this resource with an explicit deny' },
      });
    }
    expect(await call('POST', '/v1/models/churn/predict', 'guessed-key-0123456789')).toMatchObject({ status: 403 });
    // Another unknown key invokes it again; once that line is in, every earlier line of the function is too.
    expect(await call('POST', '/v1/events', 'another-guess-0123456789')).toMatchObject({ status: 403 });
    await vi.waitFor(() => expect(logLines.filter(denial).length - before).toBeGreaterThanOrEqual(2));
    expect(logLines.filter(denial).length - before).toBe(2);
  });

  it('lets API Gateway refuse a disabled key the authorizer admitted (it is in the predict plan)', async () => {
    expect(await call('POST', '/v1/models/churn/predict', disabled.value)).toEqual({ status: 403, errorType: 'ForbiddenException', body: { message: 'Forbidden' } });
  });
});

describe('the key directory behind the authorizer', () => {
  const planNames = Object.fromEntries(API_CLIENTS.map((client) => [client, usagePlanName(DEPLOYMENT, client)])) as Record<ApiClient, string>;
  const client = () => new APIGatewayClient({ endpoint: controlPlane.endpoint, region: REGION, credentials: LOCAL_CREDENTIALS });

  it('learns a key added to a plan once the recheck interval has passed, not on every unknown key', async () => {
    let now = 0;
    const directory = new KeyDirectory(new UsagePlans(client(), planNames), { now: () => now, maxAgeMs: 60_000, unknownKeyRecheckMs: 10_000 });
    expect(await directory.lookup(keys.events.value)).toEqual({ id: keys.events.id, client: 'events' });
    const added = gateway.createApiKey({ name: 'late', enabled: true, stageKeys: [] });
    gateway.addUsagePlanKey(plans.feedback!.id, added.id);
    now = 5_000;
    expect(await directory.lookup(added.value)).toBeUndefined();
    now = 10_000;
    expect(await directory.lookup(added.value)).toEqual({ id: added.id, client: 'feedback' });
  });

  it('goes on answering from the keys it read when the API Gateway API fails, and says so', async () => {
    let now = 0;
    const stale: string[] = [];
    const own = await startApiGatewayApi({ gateway, host: '127.0.0.1' });
    const directory = new KeyDirectory(
      new UsagePlans(new APIGatewayClient({ endpoint: own.endpoint, region: REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 }), planNames),
      { now: () => now, onStale: (error) => stale.push(error.message) },
    );
    expect(await directory.lookup(keys.predict.value)).toMatchObject({ client: 'predict' });
    await own.close();
    now = 120_000;
    expect(await directory.lookup(keys.predict.value)).toMatchObject({ client: 'predict' });
    expect(stale).toHaveLength(1);
  });

  it('fails when it has never read the plans, or a plan is missing', async () => {
    const missing = new KeyDirectory(new UsagePlans(client(), { ...planNames, events: 'no-such-plan' }));
    await expect(missing.lookup(keys.events.value)).rejects.toThrow("no usage plan named no-such-plan (the events keys' plan)");
  });
});
