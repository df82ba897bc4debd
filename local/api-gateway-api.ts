// The API Gateway REST API (control plane) subset the promotion pipeline and the CLI call, served on loopback
// on top of LocalApiGateway, in the REST-JSON protocol @aws-sdk/client-api-gateway speaks. Functions get its
// address as AWS_ENDPOINT_URL_API_GATEWAY.
//
//   GET  /restapis                               GetRestApis
//   GET  /restapis/{id}/resources                GetResources
//   GET  /restapis/{id}/stages/{stage}           GetStage
//   POST /restapis/{id}/deployments              CreateDeployment (stageName, description)
//   GET  /apikeys/{id}?includeValue=true         GetApiKey
//   GET  /usageplans                             GetUsagePlans
//   GET  /usageplans/{id}/keys                   GetUsagePlanKeys
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ApiGatewayError, apiGatewayErrorStatus, type LocalApiGateway } from './api-gateway';
import { listenLocally } from './ports';

export interface ApiGatewayApiServer {
  readonly endpoint: string;
  readonly server: Server;
  close(): Promise<void>;
}

export async function startApiGatewayApi(options: {
  gateway: LocalApiGateway;
  host: string;
  port?: number;
  /** Checked before each request (local/iam): `apigateway:<METHOD>` on the path, as API Gateway authorizes its own API. */
  authorize?: (headers: IncomingMessage['headers'], method: string, path: string) => Promise<{ status: number; type: string; message: string } | undefined>;
}): Promise<ApiGatewayApiServer> {
  const { gateway } = options;
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://local');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = request.method ?? 'GET';
    const refusal = await options.authorize?.(request.headers, method, url.pathname);
    if (refusal) return json(response, refusal.status, { message: refusal.message }, refusal.type);
    const route = `${method} /${parts.map((part, i) => (i % 2 === 1 ? '*' : part)).join('/')}`;
    const body = await readJson(request);
    switch (route) {
      case 'GET /restapis':
        return json(response, 200, {
          item: gateway
            .getRestApis()
            .map((api) => ({ id: api.id, name: api.name, description: api.description, createdDate: api.createdDate, rootResourceId: api.rootResourceId })),
        });
      case 'GET /restapis/*/resources':
        return json(response, 200, {
          item: gateway.getResources(parts[1] as string).map((r) => ({ ...r, resourceMethods: Object.fromEntries(r.resourceMethods.map((m) => [m, {}])) })),
        });
      case 'GET /restapis/*/stages/*':
        return json(response, 200, gateway.getStage(parts[1] as string, parts[3] as string));
      case 'POST /restapis/*/deployments': {
        const stageName = typeof body.stageName === 'string' ? body.stageName : undefined;
        const description = typeof body.description === 'string' ? body.description : undefined;
        return json(response, 201, gateway.createDeployment(parts[1] as string, { ...(stageName ? { stageName } : {}), ...(description ? { description } : {}) }));
      }
      case 'GET /apikeys/*': {
        const { value, ...key } = gateway.getApiKey(parts[1] as string);
        return json(response, 200, { ...key, lastUpdatedDate: key.createdDate, ...(url.searchParams.get('includeValue') === 'true' ? { value } : {}) });
      }
      case 'GET /usageplans':
        return json(response, 200, { item: gateway.getUsagePlans().map(({ keyIds: _keys, ...plan }) => plan) });
      case 'GET /usageplans/*/keys': {
        const plan = gateway.usagePlan(parts[1] as string);
        const item = plan.keyIds.map((id) => gateway.getApiKey(id)).map((key) => ({ id: key.id, type: 'API_KEY', value: key.value, name: key.name }));
        return json(response, 200, { item });
      }
      default:
        throw new ApiGatewayError('NotFoundException', `${method} ${url.pathname} is not part of the local API Gateway API`);
    }
  };
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (error instanceof ApiGatewayError) return json(response, apiGatewayErrorStatus(error), { message: error.message }, error.code);
      json(response, 500, { message: (error as Error).message }, 'ServiceUnavailableException');
    });
  });
  return listenLocally(server, options);
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    throw new ApiGatewayError('BadRequestException', 'Could not parse request body into json');
  }
}

function json(response: ServerResponse, status: number, body: unknown, errorType?: string): void {
  response.writeHead(status, { 'content-type': 'application/json', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
  response.end(JSON.stringify(body));
}
