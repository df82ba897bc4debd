import { describe, expect, it } from 'vitest';
import { HttpError, MethodNotAllowedError, NotFoundError } from '../../lambdas/core/errors';
import { matchRoute } from '../../lambdas/core/routes';

function failure(method: string, path: string): HttpError {
  try {
    matchRoute(method, path);
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    return error as HttpError;
  }
  throw new Error(`${method} ${path} matched a route`);
}

describe('matchRoute', () => {
  it.each([
    { method: 'POST', path: '/v1/models/iris/predict', route: { kind: 'predict', model: 'iris' } },
    { method: 'POST', path: '/v1/models/iris/predict/', route: { kind: 'predict', model: 'iris' } },
    { method: 'post', path: '/v1/models/house-prices/predict', route: { kind: 'predict', model: 'house-prices' } },
    { method: 'POST', path: '/v2/models/iris/infer', route: { kind: 'infer', model: 'iris' } },
    { method: 'POST', path: '/v2/models/iris/infer/', route: { kind: 'infer', model: 'iris' } },
    { method: 'GET', path: '/v2/models/iris', route: { kind: 'metadata', model: 'iris' } },
    { method: 'get', path: '/v2/models/iris/', route: { kind: 'metadata', model: 'iris' } },
    // The model segment is percent-decoded, so the handler compares it with the manifest's name.
    { method: 'POST', path: '/v1/models/my%20model/predict', route: { kind: 'predict', model: 'my model' } },
    { method: 'POST', path: '/v1/models/a%2Fb/predict', route: { kind: 'predict', model: 'a/b' } },
  ])('$method $path -> $route.kind of $route.model', ({ method, path, route }) => {
    expect(matchRoute(method, path)).toEqual(route);
  });

  it.each([
    { method: 'GET', path: '/v1/models/iris/predict' },
    { method: 'PUT', path: '/v1/models/iris/predict' },
    { method: 'GET', path: '/v2/models/iris/infer' },
    { method: 'DELETE', path: '/v2/models/iris/infer' },
    { method: 'POST', path: '/v2/models/iris' },
    { method: 'DELETE', path: '/v2/models/iris/' },
  ])('$method $path -> 405', ({ method, path }) => {
    const error = failure(method, path);
    expect(error).toBeInstanceOf(MethodNotAllowedError);
    expect(error.statusCode).toBe(405);
    expect(error.issues).toEqual([{ field: 'method', reason: `${method} is not allowed here` }]);
  });

  it.each([
    { method: 'POST', path: '/' },
    { method: 'POST', path: '' },
    { method: 'POST', path: '/v1/models/iris' },
    { method: 'POST', path: '/v1/models//predict' },
    { method: 'POST', path: '/v1/models/a/b/predict' },
    { method: 'POST', path: '/v1/models/iris/predict/extra' },
    { method: 'POST', path: '/v1/models/iris/infer' },
    { method: 'POST', path: '/v2/models/iris/predict' },
    { method: 'POST', path: '/v3/models/iris/predict' },
    { method: 'POST', path: 'v1/models/iris/predict' },
    { method: 'GET', path: '/v2/models' },
    { method: 'GET', path: '/v2/models/iris/ready' },
    { method: 'POST', path: '/V1/models/iris/predict' },
  ])('$method "$path" -> 404', ({ method, path }) => {
    const error = failure(method, path);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.statusCode).toBe(404);
    expect(error.issues).toEqual([{ field: 'path', reason: `no route ${path}` }]);
  });

  // A malformed escape is the client's mistake: a 4xx, not a URIError that the handler turns into a 500.
  it.each([
    { method: 'POST', path: '/v1/models/%E0%A4%A/predict' },
    { method: 'POST', path: '/v2/models/%/infer' },
    { method: 'GET', path: '/v2/models/%ZZ' },
  ])('$method $path with a malformed percent-escape -> 4xx', ({ method, path }) => {
    const error = failure(method, path);
    expect(error.statusCode).toBeGreaterThanOrEqual(400);
    expect(error.statusCode).toBeLessThan(500);
  });
});
