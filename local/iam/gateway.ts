// A loopback HTTP server in front of a local AWS server (s3rver, the DynamoDB streams proxy): it reads who signed
// each request, asks the service's check whether IAM would allow it, and either answers with the service's own
// denial or passes the request on unchanged and streams the answer back.
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { LocalService } from '../aws-services';
import { pipeline } from 'node:stream/promises';
import type { Transform } from 'node:stream';
import { listenLocally } from '../ports';

/** What a gateway does with one request. */
export type GatewayVerdict =
  /** Pass it on, with these headers (e.g. the credential rewritten for the server behind). */
  | {
      readonly forward: true;
      readonly headers: OutgoingHttpHeaders;
      readonly body?: Buffer;
      /** Streams the body through this on its way (S3's aws-chunked decoding); a failure of it is answered with `refusalOf` its error. */
      readonly decodeBody?: { readonly transform: Transform; readonly refusalOf: (error: Error) => Refusal | undefined };
      readonly onAnswer?: (answer: IncomingMessage) => Promise<Refusal | undefined>;
    }
  /** Answer it here; `connection-reset` answers nothing and resets the connection, as an unreachable service does. */
  | { readonly forward: false; readonly refusal: Refusal | 'connection-reset' };

export interface Refusal {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body: string;
}

export interface GatewayOptions {
  /** The server behind the gateway (http://127.0.0.1:<port>). */
  readonly target: string;
  readonly host: string;
  readonly port?: number;
  /** Reads the whole body before deciding (DynamoDB: the table is in it); otherwise the body streams through. */
  readonly bufferBody: boolean;
  readonly decide: (request: IncomingMessage, body: Buffer | undefined) => Promise<GatewayVerdict>;
  readonly onError?: (message: string) => void;
}

export async function startGateway(options: GatewayOptions): Promise<LocalService & { readonly server: Server }> {
  const target = new URL(options.target);
  // Idle connections are dropped before the servers behind (Node's 5 s keep-alive) drop them.
  const agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 4_000 });
  const logError = options.onError ?? ((message: string) => console.error(message));

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const body = options.bufferBody ? await readAll(request) : undefined;
    const verdict = await options.decide(request, body);
    if (!verdict.forward) {
      if (verdict.refusal === 'connection-reset') return void request.socket.resetAndDestroy();
      return refuse(response, verdict.refusal);
    }
    const buffered = verdict.body ?? body;
    const send = () =>
      new Promise<IncomingMessage>((resolve, reject) => {
        const outgoing = httpRequest(
          { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: { ...verdict.headers, host: target.host }, agent },
          resolve,
        );
        outgoing.once('error', (error: NodeJS.ErrnoException) => reject(Object.assign(error, { reusedSocket: outgoing.reusedSocket })));
        if (buffered) outgoing.end(buffered);
        else if (verdict.decodeBody) pipeline(request, verdict.decodeBody.transform, outgoing).catch(reject);
        else request.pipe(outgoing);
      });
    // A kept-alive connection the server closed as the request went out: sent again once, when the body is at hand.
    let answer: IncomingMessage;
    try {
      answer = await send().catch((error: NodeJS.ErrnoException & { reusedSocket?: boolean }) => {
        if (buffered && error.reusedSocket && error.code === 'ECONNRESET') return send();
        throw error;
      });
    } catch (error) {
      const refusal = verdict.decodeBody?.refusalOf(error as Error);
      if (refusal) return refuse(response, refusal);
      throw error;
    }
    const replaced = verdict.onAnswer ? await verdict.onAnswer(answer) : undefined;
    if (replaced) {
      answer.resume();
      return refuse(response, replaced);
    }
    response.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(response);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: Error) => {
      logError(`local IAM gateway -> ${options.target}: ${error.message}`);
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
      response.end();
    });
  });
  return listenLocally(server, options, () => agent.destroy());
}

function refuse(response: ServerResponse, refusal: Refusal): void {
  response.writeHead(refusal.status, { 'content-length': Buffer.byteLength(refusal.body), ...refusal.headers });
  response.end(refusal.body);
}

async function readAll(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Request headers as they were received, to pass on. */
export function passHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  return { ...headers };
}
