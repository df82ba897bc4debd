import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';

export interface HttpRequestParts {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query?: URLSearchParams;
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
  readonly body?: string;
  /** The API Gateway resource that matched, e.g. /v1/models/churn/predict. */
  readonly resource?: string;
  readonly pathParameters?: Readonly<Record<string, string>>;
  readonly sourceIp?: string;
  readonly stage?: string;
  /** The key API Gateway accepted for a method that requires one (identity.apiKey and apiKeyId are null otherwise). */
  readonly apiKey?: { readonly id: string; readonly value: string };
  /** What the method's Lambda authorizer answered: its context and principalId. */
  readonly authorizer?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * An API Gateway REST proxy event (payload format 1.0) as AWS documents it, so a handler cannot tell
 * the local runtime from API Gateway.
 */
export function proxyEvent(request: HttpRequestParts): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    headers[name] = values[values.length - 1] as string;
    multiValueHeaders[name] = values;
  }
  const queryStringParameters: Record<string, string> = {};
  const multiValueQueryStringParameters: Record<string, string[]> = {};
  for (const [key, value] of request.query ?? []) {
    queryStringParameters[key] = value;
    (multiValueQueryStringParameters[key] ??= []).push(value);
  }
  const hasQuery = Object.keys(queryStringParameters).length > 0;
  const now = new Date();
  const stage = request.stage ?? 'local';
  return {
    resource: request.resource ?? request.path,
    path: request.path,
    httpMethod: request.method.toUpperCase(),
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? queryStringParameters : null,
    multiValueQueryStringParameters: hasQuery ? multiValueQueryStringParameters : null,
    pathParameters: request.pathParameters ? { ...request.pathParameters } : null,
    stageVariables: null,
    body: request.body === undefined || request.body === '' ? null : request.body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: request.authorizer ? { ...request.authorizer } : null,
      protocol: 'HTTP/1.1',
      httpMethod: request.method.toUpperCase(),
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: request.apiKey?.value ?? null,
        apiKeyId: request.apiKey?.id ?? null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.sourceIp ?? '127.0.0.1',
        user: null,
        userAgent: headers['user-agent'] ?? null,
        userArn: null,
      },
      path: `/${stage}${request.path}`,
      stage,
      requestId: randomUUID(),
      requestTimeEpoch: now.getTime(),
      resourceId: 'local',
      resourcePath: request.resource ?? request.path,
    },
  };
}
