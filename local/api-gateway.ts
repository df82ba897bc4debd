// API Gateway (REST APIs) on one machine. The control plane (LocalApiGateway) holds the APIs, their resource
// trees, methods, Lambda authorizers, gateway responses, validators, models, deployments, stages, API keys and
// usage plans, as the stacks' resources and the API Gateway API create them; it persists in
// `<stateDir>/apigateway.json`. A stage serves what its deployment snapshotted: a method added later answers like
// an unknown path until a new deployment of the stage includes it. The data plane (startApiGateway) routes each
// request through an immutable routing table, replaced as a whole when a stage's deployment changes; API keys and
// usage plans are read live, as API Gateway reads them (no deployment needed).
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { Ajv, type ValidateFunction } from 'ajv';
import { proxyEvent, type HttpRequestParts } from './api-gateway-event';
import { executeApiDecision } from './iam/authorizer';
import type { PolicyDocument } from './iam/iam-model';
import { FunctionError, LambdaApiError, type LocalLambdaService } from './lambda-service';
import type { ServedRequest } from './prometheus/totals';

/** API Gateway REST's hard payload limit. */
export const API_GATEWAY_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

export interface MethodDefinition {
  readonly httpMethod: string;
  readonly apiKeyRequired: boolean;
  /** NONE (the default) or CUSTOM: a Lambda authorizer of the API decides first. */
  readonly authorizationType?: 'NONE' | 'CUSTOM';
  readonly authorizerId?: string;
  /** The Lambda function of an AWS_PROXY integration, and the alias or version its URI names. */
  readonly functionName: string;
  readonly qualifier?: string;
  readonly requestValidatorId?: string;
  /** Content type -> model name. */
  readonly requestModels?: Readonly<Record<string, string>>;
}

export interface GatewayResponseDefinition {
  readonly statusCode?: string;
  readonly responseParameters?: Readonly<Record<string, string>>;
  readonly responseTemplates?: Readonly<Record<string, string>>;
}

/** A Lambda authorizer of the REQUEST type. */
export interface AuthorizerDefinition {
  readonly name: string;
  readonly functionName: string;
  readonly qualifier?: string;
  /** Request parameters whose values identify the caller: `method.request.header.<name>` or `method.request.querystring.<name>`. */
  readonly identitySources: readonly string[];
  /** How long an answer is kept per identity (0: never). */
  readonly ttlSeconds: number;
}

interface ResourceState {
  readonly id: string;
  readonly parentId?: string;
  readonly pathPart?: string;
}

/** What a deployment froze of its API. */
interface Snapshot {
  readonly routes: readonly ApiRoute[];
  readonly gatewayResponses: Readonly<Record<string, GatewayResponseDefinition>>;
  readonly validators: Readonly<Record<string, { readonly validateRequestBody: boolean }>>;
  readonly models: Readonly<Record<string, { readonly schema: unknown }>>;
  /** Absent in snapshots written before authorizers were emulated. */
  readonly authorizers?: Readonly<Record<string, AuthorizerDefinition>>;
}

interface RestApiState {
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  readonly rootResourceId: string;
  readonly createdDate: number;
  readonly resources: Record<string, ResourceState>;
  /** By `<resourceId> <HTTP method>`. */
  readonly methods: Record<string, MethodDefinition>;
  readonly gatewayResponses: Record<string, GatewayResponseDefinition>;
  readonly validators: Record<string, { readonly name: string; readonly validateRequestBody: boolean; readonly validateRequestParameters: boolean }>;
  readonly models: Record<string, { readonly contentType: string; readonly schema: unknown }>;
  /** Absent in state written before authorizers were emulated. */
  authorizers?: Record<string, AuthorizerDefinition>;
  readonly deployments: Record<string, { readonly id: string; readonly description?: string; readonly createdDate: number; readonly snapshot: Snapshot }>;
  readonly stages: Record<string, { readonly deploymentId: string; readonly createdDate: number }>;
}

export interface ApiKeyState {
  readonly id: string;
  readonly name: string;
  readonly value: string;
  readonly enabled: boolean;
  readonly description?: string;
  readonly createdDate: number;
  readonly stageKeys: readonly string[];
}

export interface UsagePlanState {
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  readonly apiStages: readonly { readonly apiId: string; readonly stage: string }[];
  readonly throttle?: { readonly burstLimit?: number; readonly rateLimit?: number };
  readonly quota?: { readonly limit?: number; readonly period?: string };
  readonly keyIds: string[];
}

interface GatewayState {
  apis: Record<string, RestApiState>;
  apiKeys: Record<string, ApiKeyState>;
  usagePlans: Record<string, UsagePlanState>;
}

/** One deployed method: a path template (with {param} segments) proxied to a Lambda function. */
export interface ApiRoute extends MethodDefinition {
  readonly method: string;
  /** e.g. /v1/models/churn/predict or /items/{id} */
  readonly resourcePath: string;
}

/** An error of the API Gateway API (NotFoundException, BadRequestException, ConflictException). */
export class ApiGatewayError extends Error {
  constructor(
    readonly code: 'NotFoundException' | 'BadRequestException' | 'ConflictException',
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

const STATUS: Readonly<Record<ApiGatewayError['code'], number>> = { NotFoundException: 404, BadRequestException: 400, ConflictException: 409 };
export const apiGatewayErrorStatus = (error: ApiGatewayError): number => STATUS[error.code];

/** A stage's deployment as the data plane reads it. */
interface DeployedStage {
  readonly apiId: string;
  readonly stageName: string;
  readonly root: RouteNode;
  readonly snapshot: Snapshot;
  /** Compiled request models, by model name (filled on first use). */
  readonly validators: Map<string, ValidateFunction>;
}

interface RouteNode {
  readonly resourcePath: string;
  readonly literals: Map<string, RouteNode>;
  parameter?: { readonly name: string; readonly node: RouteNode };
  greedy?: { readonly name: string; readonly node: RouteNode };
  readonly methods: Map<string, ApiRoute>;
}

interface RoutingTable {
  readonly stages: ReadonlyMap<string, DeployedStage>;
  /** The stage a request without a stage segment goes to (the first one deployed). */
  readonly fallback?: DeployedStage;
}

/** A permission check of the Lambda resource policy (local/iam): may API Gateway invoke this function from this method? */
export type InvokePermission = (functionName: string, qualifier: string | undefined, sourceArn: string) => Promise<boolean>;

const identifier = (length: number) => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('');
};
const now = () => Math.floor(Date.now() / 1000);

export class LocalApiGateway {
  private state: GatewayState;
  private routing: RoutingTable = { stages: new Map() };

  constructor(
    private readonly options: {
      readonly stateFile: string;
      readonly region: string;
      readonly accountId: string;
    },
  ) {
    this.state = existsSync(options.stateFile) ? (JSON.parse(readFileSync(options.stateFile, 'utf8')) as GatewayState) : { apis: {}, apiKeys: {}, usagePlans: {} };
    this.rebuild();
  }

  createRestApi(name: string, description?: string): RestApiState {
    const id = identifier(10);
    const rootResourceId = identifier(10);
    const api: RestApiState = {
      id,
      name,
      ...(description ? { description } : {}),
      rootResourceId,
      createdDate: now(),
      resources: { [rootResourceId]: { id: rootResourceId } },
      methods: {},
      gatewayResponses: {},
      validators: {},
      models: {},
      deployments: {},
      stages: {},
    };
    this.state.apis[id] = api;
    this.save();
    return api;
  }

  deleteRestApi(apiId: string): void {
    this.api(apiId);
    delete this.state.apis[apiId];
    this.save();
  }

  getRestApis(): RestApiState[] {
    return Object.values(this.state.apis);
  }

  createResource(apiId: string, parentId: string, pathPart: string): ResourceState {
    const api = this.api(apiId);
    if (!api.resources[parentId]) throw new ApiGatewayError('NotFoundException', `Invalid Resource identifier specified`);
    if (!/^(\{[A-Za-z0-9._-]+\+?\}|[A-Za-z0-9._~:@!$&'()*+,;=-]+)$/.test(pathPart))
      throw new ApiGatewayError(
        'BadRequestException',
        `Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace.`,
      );
    const siblings = Object.values(api.resources).filter((r) => r.parentId === parentId);
    if (siblings.some((r) => r.pathPart === pathPart)) throw new ApiGatewayError('ConflictException', `Another resource with the same parent already has this name: ${pathPart}`);
    if (pathPart.startsWith('{') && siblings.some((r) => r.pathPart?.startsWith('{')))
      throw new ApiGatewayError('BadRequestException', `A sibling ({${pathPart}}) of this resource already has a variable path part -- only one is allowed`);
    const resource: ResourceState = { id: identifier(6), parentId, pathPart };
    api.resources[resource.id] = resource;
    this.save();
    return resource;
  }

  deleteResource(apiId: string, resourceId: string): void {
    const api = this.api(apiId);
    const doomed = new Set([resourceId]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const r of Object.values(api.resources)) {
        if (r.parentId && doomed.has(r.parentId) && !doomed.has(r.id)) {
          doomed.add(r.id);
          grew = true;
        }
      }
    }
    for (const id of doomed) delete api.resources[id];
    for (const key of Object.keys(api.methods)) if (doomed.has(key.split(' ')[0] as string)) delete api.methods[key];
    this.save();
  }

  putMethod(apiId: string, resourceId: string, method: MethodDefinition): void {
    const api = this.api(apiId);
    if (!api.resources[resourceId]) throw new ApiGatewayError('NotFoundException', 'Invalid Resource identifier specified');
    if (method.requestValidatorId !== undefined && !api.validators[method.requestValidatorId])
      throw new ApiGatewayError('BadRequestException', `Invalid Request Validator identifier specified`);
    for (const model of Object.values(method.requestModels ?? {}))
      if (!api.models[model]) throw new ApiGatewayError('BadRequestException', `Invalid model identifier specified: ${model}`);
    if (method.authorizationType === 'CUSTOM' && (method.authorizerId === undefined || !api.authorizers?.[method.authorizerId]))
      throw new ApiGatewayError('BadRequestException', 'Invalid authorizer ID specified');
    api.methods[`${resourceId} ${method.httpMethod}`] = method;
    this.save();
  }

  deleteMethod(apiId: string, resourceId: string, httpMethod: string): void {
    delete this.state.apis[apiId]?.methods[`${resourceId} ${httpMethod}`];
    this.save();
  }

  putGatewayResponse(apiId: string, responseType: string, response: GatewayResponseDefinition): void {
    this.api(apiId).gatewayResponses[responseType] = response;
    this.save();
  }

  deleteGatewayResponse(apiId: string, responseType: string): void {
    delete this.state.apis[apiId]?.gatewayResponses[responseType];
    this.save();
  }

  createAuthorizer(apiId: string, authorizer: AuthorizerDefinition): string {
    const api = this.api(apiId);
    if (Object.values(api.authorizers ?? {}).some((a) => a.name === authorizer.name))
      throw new ApiGatewayError('ConflictException', `Authorizer name already exists: ${authorizer.name}`);
    const id = identifier(6);
    (api.authorizers ??= {})[id] = authorizer;
    this.save();
    return id;
  }

  updateAuthorizer(apiId: string, id: string, authorizer: AuthorizerDefinition): void {
    const api = this.api(apiId);
    if (!api.authorizers?.[id]) throw new ApiGatewayError('NotFoundException', 'Invalid Authorizer identifier specified');
    api.authorizers[id] = authorizer;
    this.save();
  }

  deleteAuthorizer(apiId: string, id: string): void {
    const api = this.state.apis[apiId];
    if (!api) return;
    if (Object.values(api.methods).some((m) => m.authorizerId === id)) throw new ApiGatewayError('ConflictException', `Cannot delete authorizer, is referenced in method`);
    delete api.authorizers?.[id];
    this.save();
  }

  createRequestValidator(apiId: string, validator: { name: string; validateRequestBody: boolean; validateRequestParameters: boolean }): string {
    const id = identifier(6);
    this.api(apiId).validators[id] = validator;
    this.save();
    return id;
  }

  deleteRequestValidator(apiId: string, id: string): void {
    delete this.state.apis[apiId]?.validators[id];
    this.save();
  }

  createModel(apiId: string, name: string, contentType: string, schema: unknown): void {
    const api = this.api(apiId);
    if (api.models[name]) throw new ApiGatewayError('ConflictException', `Model name already exists for this REST API`);
    api.models[name] = { contentType, schema };
    this.save();
  }

  deleteModel(apiId: string, name: string): void {
    delete this.state.apis[apiId]?.models[name];
    this.save();
  }

  /** CreateDeployment: snapshots the API's current methods (and responses, validators, models); with a stage name, the stage serves it. */
  createDeployment(apiId: string, options: { stageName?: string; description?: string } = {}): { id: string; description?: string; createdDate: number } {
    const api = this.api(apiId);
    const routes = Object.entries(api.methods).map(([key, method]) => ({ ...method, method: method.httpMethod, resourcePath: this.pathOf(api, key.split(' ')[0] as string) }));
    if (routes.length === 0) throw new ApiGatewayError('BadRequestException', "The REST API doesn't contain any methods");
    const deployment = {
      id: identifier(6),
      ...(options.description ? { description: options.description } : {}),
      createdDate: now(),
      snapshot: {
        routes,
        gatewayResponses: structuredClone(api.gatewayResponses),
        validators: Object.fromEntries(Object.entries(api.validators).map(([id, v]) => [id, { validateRequestBody: v.validateRequestBody }])),
        models: Object.fromEntries(Object.entries(api.models).map(([name, m]) => [name, { schema: m.schema }])),
        authorizers: structuredClone(api.authorizers ?? {}),
      },
    };
    api.deployments[deployment.id] = deployment;
    if (options.stageName) api.stages[options.stageName] = { deploymentId: deployment.id, createdDate: api.stages[options.stageName]?.createdDate ?? now() };
    this.save();
    this.rebuild();
    const { snapshot: _snapshot, ...summary } = deployment;
    return summary;
  }

  deleteDeployment(apiId: string, deploymentId: string): void {
    const api = this.api(apiId);
    const using = Object.entries(api.stages)
      .filter(([, s]) => s.deploymentId === deploymentId)
      .map(([name]) => name);
    if (using.length > 0) throw new ApiGatewayError('BadRequestException', `Active stages pointing to this deployment must be moved or deleted: ${using.join(', ')}`);
    delete api.deployments[deploymentId];
    this.save();
  }

  /** CreateStage / UpdateStage (deploymentId): the stage serves that deployment. */
  putStage(apiId: string, stageName: string, deploymentId: string): void {
    const api = this.api(apiId);
    if (!api.deployments[deploymentId]) throw new ApiGatewayError('BadRequestException', `Invalid deployment identifier specified`);
    api.stages[stageName] = { deploymentId, createdDate: api.stages[stageName]?.createdDate ?? now() };
    this.save();
    this.rebuild();
  }

  deleteStage(apiId: string, stageName: string): void {
    delete this.state.apis[apiId]?.stages[stageName];
    this.save();
    this.rebuild();
  }

  createApiKey(options: { name: string; value?: string; enabled: boolean; description?: string; stageKeys: readonly string[] }): ApiKeyState {
    const key: ApiKeyState = {
      id: identifier(10),
      name: options.name,
      value: options.value ?? identifier(40),
      enabled: options.enabled,
      ...(options.description ? { description: options.description } : {}),
      createdDate: now(),
      stageKeys: options.stageKeys,
    };
    this.state.apiKeys[key.id] = key;
    this.save();
    return key;
  }

  getApiKey(id: string): ApiKeyState {
    const key = this.state.apiKeys[id];
    if (!key) throw new ApiGatewayError('NotFoundException', 'Invalid API Key identifier specified');
    return key;
  }

  deleteApiKey(id: string): void {
    delete this.state.apiKeys[id];
    for (const plan of Object.values(this.state.usagePlans)) plan.keyIds.splice(0, plan.keyIds.length, ...plan.keyIds.filter((k) => k !== id));
    this.save();
  }

  createUsagePlan(plan: Omit<UsagePlanState, 'id' | 'keyIds'>): UsagePlanState {
    const created: UsagePlanState = { ...plan, id: identifier(6), keyIds: [] };
    this.state.usagePlans[created.id] = created;
    this.save();
    return created;
  }

  deleteUsagePlan(id: string): void {
    delete this.state.usagePlans[id];
    this.save();
  }

  getUsagePlans(): UsagePlanState[] {
    return Object.values(this.state.usagePlans);
  }

  usagePlan(id: string): UsagePlanState {
    const plan = this.state.usagePlans[id];
    if (!plan) throw new ApiGatewayError('NotFoundException', 'Invalid Usage Plan ID specified');
    return plan;
  }

  addUsagePlanKey(planId: string, keyId: string): void {
    const plan = this.usagePlan(planId);
    this.getApiKey(keyId);
    if (plan.keyIds.includes(keyId)) throw new ApiGatewayError('ConflictException', 'Usage Plan already contains this key');
    // A key may be in one plan per API stage: that is what lets a plan stand for one kind of client.
    const shared = Object.values(this.state.usagePlans).find(
      (other) => other.keyIds.includes(keyId) && other.apiStages.some((s) => plan.apiStages.some((t) => s.apiId === t.apiId && s.stage === t.stage)),
    );
    if (shared) throw new ApiGatewayError('ConflictException', `API Key ${keyId} already associated with Usage Plan ${shared.id}, which has the same API stage`);
    plan.keyIds.push(keyId);
    this.save();
  }

  removeUsagePlanKey(planId: string, keyId: string): void {
    const plan = this.state.usagePlans[planId];
    if (plan) plan.keyIds.splice(0, plan.keyIds.length, ...plan.keyIds.filter((k) => k !== keyId));
    this.save();
  }

  /**
   * The key of a request to an `apiKeyRequired` method, as API Gateway accepts it: its value is a key's, the key is
   * enabled, and one of its usage plans includes this API's stage. Undefined otherwise (403 INVALID_API_KEY).
   */
  acceptedApiKey(value: string | undefined, apiId: string, stageName: string): ApiKeyState | undefined {
    if (!value) return undefined;
    const key = Object.values(this.state.apiKeys).find((k) => k.value === value);
    if (!key?.enabled) return undefined;
    const inPlan = Object.values(this.state.usagePlans).some((plan) => plan.keyIds.includes(key.id) && plan.apiStages.some((s) => s.apiId === apiId && s.stage === stageName));
    return inPlan ? key : undefined;
  }

  /** GetResources: every resource of the API with its full path and methods. */
  getResources(apiId: string): { id: string; parentId?: string; pathPart?: string; path: string; resourceMethods: string[] }[] {
    const api = this.api(apiId);
    return Object.values(api.resources).map((r) => ({
      ...r,
      path: this.pathOf(api, r.id),
      resourceMethods: Object.keys(api.methods)
        .filter((k) => k.startsWith(`${r.id} `))
        .map((k) => k.split(' ')[1] as string),
    }));
  }

  getStage(apiId: string, stageName: string): { stageName: string; deploymentId: string; createdDate: number } {
    const stage = this.api(apiId).stages[stageName];
    if (!stage) throw new ApiGatewayError('NotFoundException', 'Invalid stage identifier specified');
    return { stageName, ...stage };
  }

  /** Every route every stage serves now. */
  routes(): ApiRoute[] {
    return [...new Set(this.routing.stages.values())].flatMap((stage) => stage.snapshot.routes);
  }

  /** The routing table in force: read once per request, replaced as a whole. */
  table(): RoutingTable {
    return this.routing;
  }

  private api(apiId: string): RestApiState {
    const api = this.state.apis[apiId];
    if (!api) throw new ApiGatewayError('NotFoundException', 'Invalid REST API identifier specified');
    return api;
  }

  private pathOf(api: RestApiState, resourceId: string): string {
    const parts: string[] = [];
    for (let resource = api.resources[resourceId]; resource?.parentId !== undefined; resource = api.resources[resource.parentId]) parts.unshift(resource.pathPart as string);
    return `/${parts.join('/')}`;
  }

  private rebuild(): void {
    const stages = new Map<string, DeployedStage>();
    let fallback: DeployedStage | undefined;
    const byAge = Object.values(this.state.apis)
      .flatMap((api) => Object.entries(api.stages).map(([stageName, stage]) => ({ api, stageName, stage })))
      .sort((a, b) => a.stage.createdDate - b.stage.createdDate);
    for (const { api, stageName, stage } of byAge) {
      const deployment = api.deployments[stage.deploymentId];
      if (!deployment) continue;
      const deployed: DeployedStage = { apiId: api.id, stageName, root: routeTree(deployment.snapshot.routes), snapshot: deployment.snapshot, validators: new Map() };
      if (!stages.has(stageName)) stages.set(stageName, deployed);
      fallback ??= deployed;
    }
    this.routing = { stages, ...(fallback ? { fallback } : {}) };
  }

  private save(): void {
    writeFileSync(`${this.options.stateFile}.tmp`, JSON.stringify(this.state));
    renameSync(`${this.options.stateFile}.tmp`, this.options.stateFile);
  }
}

function routeTree(routes: readonly ApiRoute[]): RouteNode {
  const node = (resourcePath: string): RouteNode => ({ resourcePath, literals: new Map(), methods: new Map() });
  const root = node('/');
  for (const route of routes) {
    let current = root;
    for (const part of route.resourcePath.split('/').filter(Boolean)) {
      const path = `${current.resourcePath === '/' ? '' : current.resourcePath}/${part}`;
      if (part.startsWith('{') && part.endsWith('+}')) current = (current.greedy ??= { name: part.slice(1, -2), node: node(path) }).node;
      else if (part.startsWith('{')) current = (current.parameter ??= { name: part.slice(1, -1), node: node(path) }).node;
      else {
        let child = current.literals.get(part);
        if (!child) current.literals.set(part, (child = node(path)));
        current = child;
      }
    }
    current.methods.set(route.method, route);
  }
  return root;
}

/**
 * Finds the method of a request path as API Gateway does: at each segment a literal resource wins over a
 * path parameter (no fallback to the parameter when the literal's subtree has no match), a greedy
 * parameter takes the rest; the method must be defined on the resource found (or ANY).
 */
function findRoute(root: RouteNode, method: string, path: string): { route: ApiRoute; pathParameters: Record<string, string> } | undefined {
  const segments = path.split('/').filter(Boolean);
  const parameters: Record<string, string> = {};
  let current = root;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    const literal = current.literals.get(segment);
    if (literal) current = literal;
    else if (current.parameter) {
      parameters[current.parameter.name] = decodeSegment(segment);
      current = current.parameter.node;
    } else if (current.greedy) {
      parameters[current.greedy.name] = segments.slice(i).map(decodeSegment).join('/');
      current = current.greedy.node;
      break;
    } else return undefined;
  }
  const route = current.methods.get(method) ?? current.methods.get('ANY');
  return route ? { route, pathParameters: parameters } : undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Response types with their default status, message and `x-amzn-ErrorType` (API Gateway's documented defaults;
 * a failed authorizer answers `{"message": null}`).
 */
const RESPONSE_TYPES: Readonly<Record<string, { status: number; message: string | null; errorType: string }>> = {
  MISSING_AUTHENTICATION_TOKEN: { status: 403, message: 'Missing Authentication Token', errorType: 'MissingAuthenticationTokenException' },
  UNAUTHORIZED: { status: 401, message: 'Unauthorized', errorType: 'UnauthorizedException' },
  ACCESS_DENIED: { status: 403, message: 'User is not authorized to access this resource', errorType: 'AccessDeniedException' },
  INVALID_API_KEY: { status: 403, message: 'Forbidden', errorType: 'ForbiddenException' },
  BAD_REQUEST_BODY: { status: 400, message: 'Invalid request body', errorType: 'BadRequestException' },
  REQUEST_TOO_LARGE: { status: 413, message: 'Request Too Long', errorType: 'RequestTooLargeException' },
  AUTHORIZER_FAILURE: { status: 500, message: null, errorType: 'AuthorizerConfigurationException' },
  AUTHORIZER_CONFIGURATION_ERROR: { status: 500, message: null, errorType: 'AuthorizerConfigurationException' },
  API_CONFIGURATION_ERROR: { status: 500, message: 'Internal server error', errorType: 'InternalServerErrorException' },
  INTEGRATION_FAILURE: { status: 502, message: 'Internal server error', errorType: 'InternalServerErrorException' },
};

interface GatewayError {
  readonly type: keyof typeof RESPONSE_TYPES;
  readonly validationErrorString?: string;
  /** Replaces the type's default message (ACCESS_DENIED says whether a Deny matched). */
  readonly message?: string;
}

/** What a Lambda authorizer answered for one identity, kept for its TTL. */
interface AuthorizerAnswer {
  readonly principalId: string;
  readonly policy: PolicyDocument;
  readonly context: Readonly<Record<string, string | number | boolean>>;
  readonly expiresAt: number;
}

/** Answers kept at most (API Gateway's cache is bounded too; an evicted identity asks the authorizer again). */
const MAX_AUTHORIZER_ANSWERS = 10_000;

export interface ApiGatewayServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * Serves the deployed stages over HTTP on loopback: builds API Gateway proxy events (payload 1.0), checks
 * the function's resource policy lets API Gateway invoke it, validates request bodies against the method's
 * model, invokes the integration's function through the local Lambda service (alias routing included), and
 * answers errors with the API's gateway responses. Routes are served under /<stage>/ and, for the first
 * stage deployed, at the root.
 */
export async function startApiGateway(options: {
  readonly gateway: LocalApiGateway;
  readonly lambda: LocalLambdaService;
  readonly canInvoke: InvokePermission;
  readonly region: string;
  readonly accountId: string;
  readonly host: string;
  readonly port: number;
  /** Extra pages the runtime serves itself (dashboard, health); return false to fall through to the API. */
  readonly extraRoutes?: (request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>;
  /** Told of every request answered with a function's response, once the answer is sent (request durations for /metrics). */
  readonly onServed?: (served: ServedRequest) => void;
}): Promise<ApiGatewayServer> {
  const answers = new Map<string, AuthorizerAnswer>();

  /**
   * A CUSTOM method's Lambda authorizer (REQUEST type), as API Gateway runs it: a missing identity source is a
   * 401 without invoking it; an answer is kept per identity for the authorizer's TTL and applies to every method
   * of the stage; the answer's policy must allow execute-api:Invoke on the method ARN; a thrown "Unauthorized"
   * is a 401, any other failure or a malformed answer a 500. Its context reaches the integration.
   */
  async function authorize(
    stage: DeployedStage,
    route: ApiRoute,
    parts: HttpRequestParts & { readonly path: string; readonly method: string },
  ): Promise<{ context: Record<string, string | number | boolean> } | GatewayError> {
    const authorizer = route.authorizerId === undefined ? undefined : stage.snapshot.authorizers?.[route.authorizerId];
    if (!authorizer || route.authorizerId === undefined) return { type: 'AUTHORIZER_CONFIGURATION_ERROR' };
    const identity = authorizer.identitySources.map((source) => identityValue(source, parts));
    if (identity.some((value) => !value)) return { type: 'UNAUTHORIZED' };
    const methodArn = `arn:aws:execute-api:${options.region}:${options.accountId}:${stage.apiId}/${stage.stageName}/${parts.method}${parts.path}`;
    const cacheKey = JSON.stringify([stage.apiId, stage.stageName, route.authorizerId, ...identity]);
    let answer = answers.get(cacheKey);
    if (!answer || answer.expiresAt <= Date.now()) {
      const authorizerArn = `arn:aws:execute-api:${options.region}:${options.accountId}:${stage.apiId}/authorizers/${route.authorizerId}`;
      if (!(await options.canInvoke(authorizer.functionName, authorizer.qualifier, authorizerArn))) {
        console.error(`local API Gateway: authorizer ${authorizer.name}: no permission lets API Gateway invoke ${authorizer.functionName} from ${authorizerArn}`);
        return { type: 'AUTHORIZER_CONFIGURATION_ERROR' };
      }
      const { body: _body, isBase64Encoded: _encoding, ...request } = proxyEvent(parts);
      let result: unknown;
      try {
        ({ result } = await options.lambda.invoke(authorizer.functionName, authorizer.qualifier, { type: 'REQUEST', methodArn, ...request }));
      } catch (error) {
        if (error instanceof FunctionError && error.error.message === 'Unauthorized') return { type: 'UNAUTHORIZED' };
        if (!(error instanceof FunctionError)) console.error(`local API Gateway: authorizer ${authorizer.name}:`, error);
        return { type: 'AUTHORIZER_FAILURE' };
      }
      const parsed = authorizerAnswer(result, Date.now() + authorizer.ttlSeconds * 1000);
      if (typeof parsed === 'string') {
        console.error(`local API Gateway: authorizer ${authorizer.name} answered ${parsed}`);
        return { type: 'AUTHORIZER_CONFIGURATION_ERROR' };
      }
      answer = parsed;
      if (authorizer.ttlSeconds > 0) {
        if (answers.size >= MAX_AUTHORIZER_ANSWERS) answers.clear();
        answers.set(cacheKey, answer);
      }
    }
    const decision = await executeApiDecision(answer.policy, methodArn, options.accountId);
    if (decision === 'ExplicitlyDenied') return { type: 'ACCESS_DENIED', message: 'User is not authorized to access this resource with an explicit deny' };
    if (decision !== 'Allowed') return { type: 'ACCESS_DENIED' };
    return { context: { ...answer.context, principalId: answer.principalId } };
  }

  const server = createServer(async (request, response) => {
    const received = performance.now();
    const requestId = randomUUID();
    const table = options.gateway.table();
    const url = new URL(request.url ?? '/', 'http://local');
    const [first, ...rest] = url.pathname.split('/').filter(Boolean);
    const named = first === undefined ? undefined : table.stages.get(first);
    const stage = named ?? table.fallback;
    const path = named ? `/${rest.join('/')}` : url.pathname;
    const method = request.method ?? 'GET';
    const fail = (error: GatewayError) =>
      sendGatewayResponse(response, stage?.snapshot.gatewayResponses ?? {}, error, { method, path: `/${stage?.stageName ?? ''}${path}`, requestId });
    try {
      if (options.extraRoutes && (await options.extraRoutes(request, response))) return;
      const body = await readBody(request);
      if (body === undefined) return fail({ type: 'REQUEST_TOO_LARGE' });
      const matched = stage ? findRoute(stage.root, method, path) : undefined;
      if (!stage || !matched) return fail({ type: 'MISSING_AUTHENTICATION_TOKEN' });
      const { route } = matched;
      const requestParts = {
        method,
        path,
        query: url.searchParams,
        headers: request.headers,
        resource: route.resourcePath,
        ...(Object.keys(matched.pathParameters).length > 0 ? { pathParameters: matched.pathParameters } : {}),
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        stage: stage.stageName,
      };
      // API Gateway's order: the authorizer, then the API key, then the request validator.
      const authorized = route.authorizationType === 'CUSTOM' ? await authorize(stage, route, requestParts) : { context: undefined };
      if ('type' in authorized) return fail(authorized);
      const apiKey = route.apiKeyRequired ? options.gateway.acceptedApiKey(headerValue(request.headers, 'x-api-key'), stage.apiId, stage.stageName) : undefined;
      if (route.apiKeyRequired && !apiKey) return fail({ type: 'INVALID_API_KEY' });
      const invalid = validateBody(stage, route, request.headers['content-type'], body);
      if (invalid !== undefined) return fail({ type: 'BAD_REQUEST_BODY', validationErrorString: invalid });
      const sourceArn = `arn:aws:execute-api:${options.region}:${options.accountId}:${stage.apiId}/${stage.stageName}/${route.method}${route.resourcePath}`;
      if (!(await options.canInvoke(route.functionName, route.qualifier, sourceArn))) {
        // What API Gateway logs as "Invalid permissions on Lambda function" and answers as a 500.
        console.error(
          `local API Gateway: ${route.method} ${route.resourcePath}: no permission lets API Gateway invoke ${route.functionName}${route.qualifier ? `:${route.qualifier}` : ''} from ${sourceArn}`,
        );
        return fail({ type: 'API_CONFIGURATION_ERROR' });
      }
      const event = proxyEvent({
        ...requestParts,
        body: body.toString('utf8'),
        ...(apiKey ? { apiKey: { id: apiKey.id, value: apiKey.value } } : {}),
        ...(authorized.context ? { authorizer: authorized.context } : {}),
      });
      const { result, executedVersion } = await options.lambda.invoke(route.functionName, route.qualifier, event);
      const answer = result as APIGatewayProxyResult;
      if (!answer || typeof answer.statusCode !== 'number') return fail({ type: 'INTEGRATION_FAILURE' });
      response.writeHead(answer.statusCode, { ...(answer.headers as Record<string, string> | undefined) });
      response.end(answer.isBase64Encoded ? Buffer.from(answer.body, 'base64') : answer.body);
      options.onServed?.({
        functionName: route.functionName,
        executedVersion,
        route: `${route.method} ${route.resourcePath}`,
        statusCode: answer.statusCode,
        seconds: (performance.now() - received) / 1000,
      });
    } catch (error) {
      // The Lambda API refused the invocation (throttled): API Gateway answers 500, a configuration error.
      if (error instanceof LambdaApiError) return fail({ type: 'API_CONFIGURATION_ERROR' });
      // API Gateway's answer to a failed Lambda integration; the reason is in the function's log.
      if (!(error instanceof FunctionError)) console.error('local API Gateway:', error);
      fail({ type: 'INTEGRATION_FAILURE' });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The body checked against the method's request model, when its validator validates bodies: undefined when it passes. */
function validateBody(stage: DeployedStage, route: ApiRoute, contentType: string | undefined, body: Buffer): string | undefined {
  if (route.requestValidatorId === undefined || !stage.snapshot.validators[route.requestValidatorId]?.validateRequestBody) return undefined;
  // API Gateway takes application/json when the request names no content type.
  const mediaType = (contentType ?? 'application/json').split(';')[0]?.trim().toLowerCase() ?? '';
  const modelName = route.requestModels?.[mediaType] ?? route.requestModels?.$default;
  const model = modelName === undefined ? undefined : stage.snapshot.models[modelName];
  if (!modelName || !model) return undefined;
  let validate = stage.validators.get(modelName);
  if (!validate) {
    // Draft-04 schemas: ajv reads the keywords we use alike once the draft marker is left out.
    const { $schema: _draft, ...schema } = model.schema as Record<string, unknown>;
    validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    stage.validators.set(modelName, validate);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return 'Invalid request body';
  }
  if (validate(parsed)) return undefined;
  const describe = (error: NonNullable<ValidateFunction['errors']>[number]) =>
    error.keyword === 'type'
      ? `instance type (${Array.isArray(parsed) && error.instancePath === '' ? 'array' : parsed === null ? 'null' : typeof parsed}) does not match any allowed primitive type (allowed: ["${String(error.params.type)}"])`
      : `${error.instancePath || 'instance'} ${error.message ?? 'is invalid'}`;
  return `[${(validate.errors ?? []).map(describe).join(', ')}]`;
}

/** The API's gateway response for an error (its own type, else DEFAULT_4XX / DEFAULT_5XX, else API Gateway's default), rendered. */
function sendGatewayResponse(
  response: ServerResponse,
  responses: Readonly<Record<string, GatewayResponseDefinition>>,
  error: GatewayError,
  request: { method: string; path: string; requestId: string },
): void {
  const defaults = RESPONSE_TYPES[error.type] as { status: number; message: string | null; errorType: string };
  const message = error.message ?? defaults.message;
  const fallback = responses[defaults.status >= 500 ? 'DEFAULT_5XX' : 'DEFAULT_4XX'];
  const own = responses[error.type];
  const status = Number(own?.statusCode ?? defaults.status);
  const template = own?.responseTemplates?.['application/json'] ?? fallback?.responseTemplates?.['application/json'] ?? '{"message":$context.error.messageString}';
  const variables: Record<string, string> = {
    '$context.httpMethod': request.method,
    '$context.path': request.path,
    '$context.requestId': request.requestId,
    '$context.error.responseType': error.type,
    '$context.error.message': message ?? '',
    '$context.error.messageString': JSON.stringify(message),
    '$context.error.validationErrorString': error.validationErrorString ?? '',
  };
  const escapeJavaScript = (text: string) => JSON.stringify(text).slice(1, -1).replace(/'/g, "\\'");
  const body = template
    .replace(/\$util\.escapeJavaScript\((\$context(?:\.[A-Za-z]+)+)\)/g, (_, name: string) => escapeJavaScript(variables[name] ?? ''))
    .replace(/\$context(?:\.[A-Za-z]+)+/g, (name) => variables[name] ?? '');
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-amzn-errortype': defaults.errorType };
  for (const [key, value] of Object.entries({ ...fallback?.responseParameters, ...own?.responseParameters })) {
    const header = /^gatewayresponse\.header\.(.+)$/.exec(key);
    if (header) headers[(header[1] as string).toLowerCase()] = value.replace(/^'|'$/g, '');
  }
  response.writeHead(status, headers);
  response.end(body);
}

/** The body, or undefined when it exceeds API Gateway's payload limit. */
async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > API_GATEWAY_MAX_PAYLOAD_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A request header's value (the last one when repeated), by case-insensitive name. */
function headerValue(headers: IncomingMessage['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[value.length - 1] : value;
}

/** The value of an authorizer's identity source in a request (`method.request.header.<h>` / `.querystring.<q>`). */
function identityValue(source: string, parts: HttpRequestParts): string | undefined {
  const header = /^method\.request\.header\.(.+)$/i.exec(source);
  if (header) return headerValue(parts.headers ?? {}, header[1] as string);
  const query = /^method\.request\.querystring\.(.+)$/i.exec(source);
  return query ? (parts.query?.get(query[1] as string) ?? undefined) : undefined;
}

/** A Lambda authorizer's output checked as API Gateway checks it, or what is wrong with it. */
function authorizerAnswer(result: unknown, expiresAt: number): AuthorizerAnswer | string {
  const output = result as { principalId?: unknown; policyDocument?: { Statement?: unknown }; context?: unknown } | null;
  if (!output || typeof output !== 'object') return `no object: ${JSON.stringify(result)}`;
  if (typeof output.principalId !== 'string' || output.principalId === '') return 'no principalId';
  if (!output.policyDocument || !Array.isArray(output.policyDocument.Statement)) return 'no policyDocument with a Statement list';
  const context = output.context ?? {};
  if (typeof context !== 'object' || Array.isArray(context) || Object.values(context).some((v) => !['string', 'number', 'boolean'].includes(typeof v))) {
    return 'a context that is not a map of strings, numbers and booleans';
  }
  return { principalId: output.principalId, policy: output.policyDocument as PolicyDocument, context: context as Record<string, string | number | boolean>, expiresAt };
}
