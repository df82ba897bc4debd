import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONTENT_TYPES, negotiateFormat, renderExposition } from './exposition';
import { metricFamilies, type RuntimeMetrics } from './families';

/**
 * GET /metrics on the local API's port, for a Prometheus scrape: the text format 0.0.4, or OpenMetrics 1.0
 * when the Accept header asks for it. Pass as (part of) the API server's `extraRoutes`.
 */
export function metricsRoute(snapshot: () => RuntimeMetrics): (request: IncomingMessage, response: ServerResponse) => boolean {
  return (request, response) => {
    if (new URL(request.url ?? '/', 'http://local').pathname !== '/metrics') return false;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
      response.end(JSON.stringify({ message: `/metrics answers GET and HEAD, not ${request.method}` }));
      return true;
    }
    const format = negotiateFormat(request.headers.accept);
    const body = renderExposition(metricFamilies(snapshot()), format);
    response.writeHead(200, { 'content-type': CONTENT_TYPES[format], 'cache-control': 'no-store' });
    response.end(request.method === 'HEAD' ? undefined : body);
    return true;
  };
}
