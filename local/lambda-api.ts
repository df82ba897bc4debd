// The subset of the Lambda REST API (2015-03-31) the pipeline's Lambda adapter and the inference function's
// shadow mirroring call, served on loopback on top of LocalLambdaService. Functions get its address as
// AWS_ENDPOINT_URL_LAMBDA, so the SAME @aws-sdk/client-lambda code runs locally and in AWS.
//
//   GET  /2015-03-31/functions/{name}/configuration      GetFunctionConfiguration (State Active, LastUpdateStatus Successful)
//   PUT  /2015-03-31/functions/{name}/configuration      UpdateFunctionConfiguration (Environment)
//   POST /2015-03-31/functions/{name}/versions           PublishVersion
//   GET  /2015-03-31/functions/{name}/aliases/{alias}    GetAlias
//   PUT  /2015-03-31/functions/{name}/aliases/{alias}    UpdateAlias (FunctionVersion, RoutingConfig)
//   POST /2015-03-31/functions/{name}/invocations        Invoke (X-Amz-Invocation-Type RequestResponse | Event)
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FunctionError, LambdaApiError, type AliasState, type LocalLambdaService } from './lambda-service';
import { listenLocally } from './ports';

export interface LambdaApiServer {
  readonly endpoint: string;
  readonly server: Server;
  /** Asynchronous (Event) invocations still running. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

const PREFIX = '/2015-03-31/functions/';

/** `lambda` is read on each request: the server can start before the service it fronts (whose functions need its address). */
export async function startLambdaApi(options: {
  lambda: () => LocalLambdaService;
  host: string;
  port?: number;
  onAsyncError?: (fn: string, error: Error) => void;
  /** Checked before each operation (local/iam): the action (`InvokeFunction`...) on the function's ARN, qualified as Lambda authorizes it. */
  authorize?: (headers: IncomingMessage['headers'], action: string, functionArn: string) => Promise<{ status: number; type: string; message: string } | undefined>;
}): Promise<LambdaApiServer> {
  const pending = new Set<Promise<unknown>>();
  const revisions = new Map<string, string>();
  const revisionOf = (name: string) => {
    let revision = revisions.get(name);
    if (!revision) revisions.set(name, (revision = randomUUID()));
    return revision;
  };

  const configuration = (name: string, qualifier?: string) => {
    const lambda = options.lambda();
    const fn = lambda.getFunction(name);
    const version = qualifier && qualifier !== '$LATEST' ? fn.versions.find((v) => v.version === qualifier) : undefined;
    if (qualifier && qualifier !== '$LATEST' && !version) throw new LambdaApiError('ResourceNotFoundException', `Function not found: ${lambda.functionArn(name, qualifier)}`);
    const environment = version ? version.environment : fn.environment;
    return {
      FunctionName: name,
      FunctionArn: lambda.functionArn(name, version?.version),
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Timeout: fn.definition.timeoutSeconds,
      MemorySize: fn.definition.memoryMb,
      Version: version?.version ?? '$LATEST',
      Description: version?.description ?? '',
      Environment: { Variables: environment },
      CodeSha256: createHash('sha256').update(fn.definition.entry).digest('base64'),
      RevisionId: revisionOf(`${name}:${version?.version ?? '$LATEST'}`),
      State: 'Active',
      LastUpdateStatus: 'Successful',
    };
  };
  const alias = (name: string, state: AliasState) => ({
    AliasArn: options.lambda().functionArn(name, state.name),
    Name: state.name,
    FunctionVersion: state.functionVersion,
    RoutingConfig: { AdditionalVersionWeights: state.additionalVersionWeights },
    RevisionId: randomUUID(),
  });

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const lambda = options.lambda();
    const url = new URL(request.url ?? '/', 'http://local');
    if (!url.pathname.startsWith(PREFIX)) return error(response, 404, 'ResourceNotFoundException', `no Lambda API at ${url.pathname}`);
    const [rawName, resource, aliasName] = url.pathname.slice(PREFIX.length).split('/');
    const name = functionName(decodeURIComponent(rawName ?? ''));
    const qualifier = url.searchParams.get('Qualifier') ?? qualifierOf(decodeURIComponent(rawName ?? ''));
    const raw = await readJson(request);
    const body = (raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
    const method = request.method ?? 'GET';
    const refusal = await options.authorize?.(request.headers, ...iamAction(resource, method, lambda, name, resource === 'aliases' ? aliasName : qualifier));
    if (refusal) return error(response, refusal.status, refusal.type, refusal.message);

    if (resource === 'configuration' && method === 'GET') return json(response, 200, configuration(name, qualifier));
    if (resource === 'configuration' && method === 'PUT') {
      const variables = (body.Environment as { Variables?: Record<string, string> } | undefined)?.Variables;
      if (variables) lambda.updateFunctionConfiguration(name, variables);
      revisions.delete(`${name}:$LATEST`);
      return json(response, 200, configuration(name));
    }
    if (resource === 'versions' && method === 'POST') {
      const published = lambda.publishVersion(name, String(body.Description ?? ''));
      return json(response, 201, configuration(name, published.version));
    }
    if (resource === 'aliases' && aliasName && method === 'GET') return json(response, 200, alias(name, lambda.getAlias(name, aliasName)));
    if (resource === 'aliases' && aliasName && method === 'PUT') {
      const current = lambda.getAlias(name, aliasName);
      const routing = body.RoutingConfig as { AdditionalVersionWeights?: Record<string, number> } | undefined;
      const updated = lambda.putAlias(name, {
        name: aliasName,
        functionVersion: String(body.FunctionVersion ?? current.functionVersion),
        additionalVersionWeights: routing ? (routing.AdditionalVersionWeights ?? {}) : current.additionalVersionWeights,
      });
      return json(response, 200, alias(name, updated));
    }
    if (resource === 'invocations' && method === 'POST') {
      const payload = raw ?? {};
      const type = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
      if (type === 'Event') {
        lambda.getFunction(name);
        const run = lambda.invoke(name, qualifier, payload).catch((e: Error) => options.onAsyncError?.(name, e));
        pending.add(run);
        void run.finally(() => pending.delete(run));
        response.writeHead(202, { 'content-type': 'application/json' });
        return void response.end();
      }
      try {
        const { result, executedVersion } = await lambda.invoke(name, qualifier, payload);
        response.writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': executedVersion });
        return void response.end(JSON.stringify(result ?? null));
      } catch (e) {
        if (!(e instanceof FunctionError)) throw e;
        response.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' });
        return void response.end(JSON.stringify({ errorType: e.error.name, errorMessage: e.error.message }));
      }
    }
    return error(response, 404, 'ResourceNotFoundException', `${method} ${url.pathname} is not part of the local Lambda API`);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((e: unknown) => {
      if (e instanceof LambdaApiError) {
        const status = e.code === 'ResourceNotFoundException' ? 404 : e.code === 'ResourceConflictException' ? 409 : e.code === 'TooManyRequestsException' ? 429 : 400;
        return error(response, status, e.code, e.message);
      }
      error(response, 500, 'ServiceException', (e as Error).message);
    });
  });
  const listening = await listenLocally(server, options);
  return {
    ...listening,
    settle: async () => {
      await Promise.allSettled([...pending]);
    },
  };
}

/** The IAM action of a Lambda API request and the ARN Lambda authorizes it on (qualified for an alias, a version, an invocation with a qualifier). */
function iamAction(resource: string | undefined, method: string, lambda: LocalLambdaService, name: string, qualifier: string | undefined): [string, string] {
  const action =
    resource === 'invocations'
      ? 'InvokeFunction'
      : resource === 'versions'
        ? 'PublishVersion'
        : resource === 'aliases'
          ? method === 'GET'
            ? 'GetAlias'
            : 'UpdateAlias'
          : method === 'GET'
            ? 'GetFunctionConfiguration'
            : 'UpdateFunctionConfiguration';
  const qualified = resource === 'versions' || (resource === 'configuration' && method === 'PUT') ? undefined : qualifier;
  return [action, lambda.functionArn(name, qualified)];
}

/** A function name, partial or full ARN ("my-fn", "my-fn:live", "arn:aws:lambda:r:a:function:my-fn:7") -> the name. */
function functionName(value: string): string {
  const arn = /^arn:aws:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(value);
  if (arn) return arn[1] as string;
  return value.split(':')[0] as string;
}

function qualifierOf(value: string): string | undefined {
  const arn = /^arn:aws:lambda:[^:]*:[^:]*:function:[^:]+:([^:]+)$/.exec(value);
  if (arn) return arn[1];
  const [, qualifier] = value.split(':');
  return qualifier;
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? null : (JSON.parse(text) as unknown);
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function error(response: ServerResponse, status: number, type: string, message: string): void {
  response.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
  response.end(JSON.stringify({ Type: 'User', message }));
}
