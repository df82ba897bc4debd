import { ValidationError } from './errors';

/**
 * Parses a JSON request body; an empty body or invalid JSON is a 400 on `body` (`expected` says what
 * the route takes).
 */
export function readJsonBody(body: string | null | undefined, expected: string): unknown {
  if (body === null || body === undefined || body.trim() === '') {
    throw new ValidationError('the body is empty', [{ field: 'body', reason: `expected ${expected}` }]);
  }
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new ValidationError('the body is not JSON', [{ field: 'body', reason: `not JSON: ${(error as Error).message}` }]);
  }
}
