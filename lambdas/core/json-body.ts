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

/** Characters of a client's value quoted in an error message. */
const QUOTED_LENGTH = 60;

/**
 * A client's JSON value for an error message, as JSON cut to a few dozen characters. JSON.stringify recurses:
 * a body of 10,000 nested arrays (20 KB, well under the size limit; JSON.parse takes it) makes it throw, and
 * that must be the 400 the value deserves, not a 500 — such a value is described by its kind.
 */
export function describeJsonValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? `an array of ${value.length}` : 'an object';
  }
  return text.length > QUOTED_LENGTH ? `${text.slice(0, QUOTED_LENGTH)}...` : text;
}

/**
 * A key of a client's object as the field an issue names: as it is when it reads plainly, else as a JSON
 * string (cut), so an empty key, spaces or control characters still name something a person can find.
 */
export function describeJsonKey(key: string): string {
  return /^[A-Za-z_$][\w$.-]{0,59}$/.test(key) ? key : describeJsonValue(key);
}
