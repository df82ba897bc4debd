import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A canned answer the proxy gives instead of forwarding. */
export interface FaultAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * A loopback HTTP proxy in front of a local service (s3rver, dynalite) that answers some requests itself, as
 * the service does when it fails: `fault` sees each request and returns the answer to give, or undefined to
 * forward it. `requests` counts what reached the proxy.
 */
export interface HttpFaultProxy {
  readonly endpoint: string;
  fault: (request: { method: string; url: string; headers: IncomingHttpHeaders }) => FaultAnswer | undefined;
  readonly requests: number;
  close(): Promise<void>;
}

export async function startHttpFaultProxy(target: string): Promise<HttpFaultProxy> {
  const { hostname, port } = new URL(target);
  let requests = 0;
  const proxy: { fault: HttpFaultProxy['fault'] } = { fault: () => undefined };
  const server = createServer((incoming, outgoing) => {
    requests++;
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const answer = proxy.fault({ method: incoming.method ?? 'GET', url: incoming.url ?? '/', headers: incoming.headers });
      if (answer) {
        outgoing.writeHead(answer.status, { 'content-length': String(Buffer.byteLength(answer.body)), ...answer.headers });
        outgoing.end(answer.body);
        return;
      }
      const forwarded = httpRequest(
        { host: hostname, port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: `${hostname}:${port}` } },
        (response) => {
          outgoing.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(outgoing);
        },
      );
      forwarded.on('error', () => outgoing.destroy());
      forwarded.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get fault() {
      return proxy.fault;
    },
    set fault(fault) {
      proxy.fault = fault;
    },
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** S3's error body (the SDK reads the code from it). */
export function s3Error(status: number, code: string, message: string): FaultAnswer {
  return {
    status,
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault</RequestId></Error>`,
  };
}
