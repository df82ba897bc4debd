// Which routes each kind of API key may call. Every key belongs to one usage plan of the stage (API Gateway
// allows a key in one plan per stage), one plan per kind of client: predicting, posting labels, posting
// outcome events. API Gateway itself only checks that a key is in *some* plan of the stage, so the API's
// authorizer (use-cases/authorize-api-key.ts) answers with the policy below: the routes of the key's plan.
// API Gateway caches that answer per key and applies it to every method, so it lists all of them.

export const API_CLIENTS = ['predict', 'feedback', 'events'] as const;
export type ApiClient = (typeof API_CLIENTS)[number];

/**
 * The methods each kind of key may call, as execute-api ARNs spell a method, `<METHOD>/<path>` ('*' matches
 * any characters, '/' included). Reading a model's registry view goes with predicting; reading experiments
 * with posting the events they count.
 */
export const CLIENT_ROUTES: Readonly<Record<ApiClient, readonly string[]>> = {
  predict: ['POST/v1/models/*/predict', 'POST/v2/models/*/infer', 'GET/v2/models/*', 'GET/v1/models/*'],
  feedback: ['POST/v1/feedback'],
  events: ['POST/v1/events', 'GET/v1/experiments', 'GET/v1/experiments/*'],
};

/** The kind of client whose key a request takes (`path` from the stage on, `/v1/feedback`), or undefined for no route of ours. */
export function clientOfRoute(method: string, path: string): ApiClient | undefined {
  const route = `${method.toUpperCase()}${path}`;
  return API_CLIENTS.find((client) => CLIENT_ROUTES[client].some((pattern) => routePattern(pattern).test(route)));
}

function routePattern(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

/** The base stack's output naming each kind's first key: `PredictApiKeyId`, `FeedbackApiKeyId`, `EventsApiKeyId`. */
export function apiKeyOutputName(client: ApiClient): string {
  return `${client[0]?.toUpperCase()}${client.slice(1)}ApiKeyId`;
}

/** The header API Gateway reads API keys from (the stage's key source is HEADER). */
export const API_KEY_HEADER = 'x-api-key';

/** A key of one of the deployment's usage plans. */
export interface ClientKey {
  readonly id: string;
  readonly client: ApiClient;
}

export interface AuthorizerPolicy {
  readonly principalId: string;
  readonly policyDocument: {
    readonly Version: '2012-10-17';
    readonly Statement: readonly { readonly Action: 'execute-api:Invoke'; readonly Effect: 'Allow' | 'Deny'; readonly Resource: readonly string[] }[];
  };
  /** Passed to the integration as `requestContext.authorizer`. */
  readonly context?: Readonly<Record<string, string>>;
}

/**
 * The authorizer's answer for a key: Allow on its kind's routes in the stage the request came to; Deny on
 * everything for a key in none of the plans (API Gateway would refuse a key of no plan anyway; a key of a
 * plan another team added to the stage is not ours to admit).
 */
export function clientPolicy(methodArn: string, key: ClientKey | undefined): AuthorizerPolicy {
  const stage = stageArn(methodArn);
  if (!key) return { principalId: 'unknown-api-key', policyDocument: document('Deny', [`${stage}/*`]) };
  return {
    principalId: key.id,
    policyDocument: document(
      'Allow',
      CLIENT_ROUTES[key.client].map((route) => `${stage}/${route}`),
    ),
    context: { client: key.client, apiKeyId: key.id },
  };
}

/** `arn:aws:execute-api:<region>:<account>:<api>/<stage>` of a method ARN `.../<api>/<stage>/<METHOD>/<path>`. */
export function stageArn(methodArn: string): string {
  const match = /^(arn:[^:]+:execute-api:[^:]*:[^:]*:[^/]+\/[^/]+)\//.exec(methodArn);
  if (!match) throw new Error(`not an execute-api method ARN: ${methodArn}`);
  return match[1] as string;
}

function document(effect: 'Allow' | 'Deny', resources: readonly string[]): AuthorizerPolicy['policyDocument'] {
  return { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resources }] };
}
