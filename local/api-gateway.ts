import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { proxyEvent } from './api-gateway-event';
import { FunctionError, type LocalLambdaService } from './lambda-service';
import { resolveValue, resourcesOfType, type CfnTemplate, type ResolutionContext } from './template';

/** One method of the REST API: a path template (with {param} segments) proxied to a Lambda function. */
export interface ApiRoute {
  readonly method: string;
  /** e.g. /v1/models/churn/predict or /items/{id} */
  readonly resourcePath: string;
  readonly functionName: string;
  /** Alias or version named in the integration URI; undefined for $LATEST. */
  readonly qualifier?: string;
  readonly apiKeyRequired: boolean;
}

export interface RestApiDefinition {
  readonly logicalId: string;
  readonly stageName: string;
  readonly routes: readonly ApiRoute[];
}

/** API Gateway REST's hard payload limit. */
export const API_GATEWAY_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

/**
 * Reads the REST APIs of a template: the resource tree (PathPart under ParentId), each method's HTTP
 * method and its AWS_PROXY integration's function ARN (resolved through the local context).
 */
export function restApisFromTemplate(template: CfnTemplate, context: ResolutionContext): RestApiDefinition[] {
  return resourcesOfType(template, 'AWS::ApiGateway::RestApi').map(([apiId]) => {
    const belongs = (properties: Record<string, unknown> | undefined) => (properties?.RestApiId as { Ref?: string } | undefined)?.Ref === apiId;
    const resources = new Map(resourcesOfType(template, 'AWS::ApiGateway::Resource').filter(([, r]) => belongs(r.Properties)));
    const pathOf = (resourceId: unknown): string => {
      const ref = (resourceId as { Ref?: string }).Ref;
      const resource = ref === undefined ? undefined : resources.get(ref);
      if (!resource) return ''; // the root resource (Fn::GetAtt RootResourceId)
      const properties = resource.Properties as { ParentId: unknown; PathPart: string };
      return `${pathOf(properties.ParentId)}/${properties.PathPart}`;
    };
    const routes: ApiRoute[] = [];
    for (const [, method] of resourcesOfType(template, 'AWS::ApiGateway::Method')) {
      const properties = method.Properties as { HttpMethod: string; ResourceId: unknown; ApiKeyRequired?: boolean; Integration?: { Type?: string; Uri?: unknown } };
      if (!belongs(method.Properties) || properties.Integration?.Type !== 'AWS_PROXY') continue;
      const uri = String(resolveValue(properties.Integration.Uri, context));
      const match = /functions\/arn:aws:lambda:[^:]+:\d+:function:([^:/]+)(?::([^/]+))?\/invocations$/.exec(uri);
      if (!match) continue;
      routes.push({
        method: properties.HttpMethod,
        resourcePath: pathOf(properties.ResourceId) || '/',
        functionName: match[1] as string,
        ...(match[2] ? { qualifier: match[2] } : {}),
        apiKeyRequired: properties.ApiKeyRequired === true,
      });
    }
    const stage = resourcesOfType(template, 'AWS::ApiGateway::Stage').find(([, s]) => belongs(s.Properties));
    return { logicalId: apiId, stageName: String((stage?.[1].Properties as { StageName?: string } | undefined)?.StageName ?? 'prod'), routes };
  });
}

interface MatchedRoute {
  readonly route: ApiRoute;
  readonly pathParameters: Record<string, string>;
}

function matchRoute(routes: readonly ApiRoute[], method: string, path: string): MatchedRoute | 'method-not-allowed' | undefined {
  const segments = path.split('/').filter(Boolean);
  let pathMatched = false;
  for (const route of routes) {
    const template = route.resourcePath.split('/').filter(Boolean);
    const parameters: Record<string, string> = {};
    const greedy = template[template.length - 1]?.endsWith('+}');
    if (greedy ? segments.length < template.length : segments.length !== template.length) continue;
    const matches = template.every((part, i) => {
      if (part.startsWith('{') && part.endsWith('}')) {
        const name = part.slice(1, part.endsWith('+}') ? -2 : -1);
        parameters[name] = part.endsWith('+}') ? segments.slice(i).join('/') : (segments[i] as string);
        return true;
      }
      return part === segments[i];
    });
    if (!matches) continue;
    pathMatched = true;
    if (route.method === method || route.method === 'ANY') return { route, pathParameters: parameters };
  }
  return pathMatched ? 'method-not-allowed' : undefined;
}

export interface ApiGatewayServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * Serves the template's REST API over HTTP on loopback: builds API Gateway proxy events (payload 1.0),
 * invokes the integration's function through the local Lambda service (alias routing included), and
 * answers like API Gateway (JSON errors, 413 over 10 MB, 502 when the function fails).
 * Routes are served at the root and under /<stage>/, as the deployed URL has the stage in it.
 */
export async function startApiGateway(options: {
  readonly apis: readonly RestApiDefinition[];
  readonly lambda: LocalLambdaService;
  readonly host: string;
  readonly port: number;
  /** Extra pages the runtime serves itself (dashboard, health); return false to fall through to the API. */
  readonly extraRoutes?: (request: IncomingMessage, response: ServerResponse) => boolean | Promise<boolean>;
  /** Checks API Gateway may invoke the route's function (local/iam); a refusal is API Gateway's 500. */
  readonly authorizeInvoke?: (api: RestApiDefinition, route: ApiRoute, method: string, path: string) => Promise<void>;
}): Promise<ApiGatewayServer> {
  const routes = options.apis.flatMap((api) => api.routes);
  const apiOf = new Map(options.apis.flatMap((api) => api.routes.map((route) => [route, api] as const)));
  const stages = new Set(options.apis.map((api) => api.stageName));
  const server = createServer(async (request, response) => {
    try {
      if (options.extraRoutes && (await options.extraRoutes(request, response))) return;
      const url = new URL(request.url ?? '/', 'http://local');
      const [first, ...rest] = url.pathname.split('/').filter(Boolean);
      const path = first !== undefined && stages.has(first) ? `/${rest.join('/')}` : url.pathname;
      const body = await readBody(request);
      if (body === undefined) return send(response, 413, { message: 'Request Too Long' });
      const matched = matchRoute(routes, request.method ?? 'GET', path);
      if (matched === undefined) return send(response, 404, { message: `no route for ${request.method} ${path}` });
      if (matched === 'method-not-allowed') return send(response, 405, { message: `${request.method} is not allowed on ${path}` });
      const event = proxyEvent({
        method: request.method ?? 'GET',
        path,
        query: url.searchParams,
        headers: request.headers,
        body: body.toString('utf8'),
        resource: matched.route.resourcePath,
        pathParameters: matched.pathParameters,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
      });
      if (options.authorizeInvoke) {
        try {
          await options.authorizeInvoke(apiOf.get(matched.route) as RestApiDefinition, matched.route, request.method ?? 'GET', path);
        } catch (error) {
          console.error(`local API Gateway: ${(error as Error).message}`);
          return send(response, 500, { message: 'Internal server error' });
        }
      }
      const { result } = await options.lambda.invoke(matched.route.functionName, matched.route.qualifier, event);
      const answer = result as APIGatewayProxyResult;
      if (!answer || typeof answer.statusCode !== 'number') return send(response, 502, { message: 'Internal server error' });
      response.writeHead(answer.statusCode, { ...(answer.headers as Record<string, string> | undefined) });
      response.end(answer.isBase64Encoded ? Buffer.from(answer.body, 'base64') : answer.body);
    } catch (error) {
      // API Gateway's answer to a failed Lambda integration; the reason is in the function's log.
      if (!(error instanceof FunctionError)) console.error('local API Gateway:', error);
      send(response, 502, { message: 'Internal server error' });
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
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
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

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
