import { MethodNotAllowedError, NotFoundError } from './errors';

export type RouteKind = 'predict' | 'infer' | 'metadata';

export interface Route {
  readonly kind: RouteKind;
  readonly model: string;
}

const routes: readonly { kind: RouteKind; method: string; pattern: RegExp }[] = [
  { kind: 'predict', method: 'POST', pattern: /^\/v1\/models\/([^/]+)\/predict\/?$/ },
  { kind: 'infer', method: 'POST', pattern: /^\/v2\/models\/([^/]+)\/infer\/?$/ },
  { kind: 'metadata', method: 'GET', pattern: /^\/v2\/models\/([^/]+)\/?$/ },
];

/** The serving route a request addresses; 404 for an unknown path, 405 for a known path with the wrong method. */
export function matchRoute(method: string, path: string): Route {
  let pathMatched = false;
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    pathMatched = true;
    if (route.method === method.toUpperCase()) return { kind: route.kind, model: decodeModelName(match[1] as string, method, path) };
  }
  if (pathMatched) throw new MethodNotAllowedError(`${method} is not allowed on ${path}`, [{ field: 'method', reason: `${method} is not allowed here` }]);
  throw new NotFoundError(`no route ${method} ${path}`, [{ field: 'path', reason: `no route ${path}` }]);
}

function decodeModelName(segment: string, method: string, path: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new NotFoundError(`no route ${method} ${path}`, [{ field: 'path', reason: `malformed percent-encoding in ${path}` }]);
  }
}
