// DynamoDB's number type holds magnitudes from 1E-130 to 9.9999999999999999999999999999999999999E+125 (and 0);
// a write with any other number fails as a whole with a ValidationException. Every number a client sends
// that the service stores (feature values in the prediction log, labels, event values) is checked here at
// the request, so a client cannot make a write fail — which would send a prediction to the log fallback, or
// block a stream consumer — by choosing its numbers.

/** The largest power of ten DynamoDB cannot store: stored magnitudes are below it. */
export const DYNAMODB_NUMBER_OVERFLOW = 1e126;
/** The smallest magnitude DynamoDB stores, apart from 0. */
export const DYNAMODB_NUMBER_UNDERFLOW = 1e-130;

/** Why DynamoDB cannot store `value`, or undefined when it can. */
export function dynamoNumberProblem(value: number): string | undefined {
  if (!Number.isFinite(value)) return `expected a finite number, got ${value}`;
  const magnitude = Math.abs(value);
  if (magnitude >= DYNAMODB_NUMBER_OVERFLOW) return `${value} is too large to store: the magnitude must be below 1e126`;
  if (magnitude !== 0 && magnitude < DYNAMODB_NUMBER_UNDERFLOW) return `${value} is too small to store: a number other than 0 must have a magnitude of at least 1e-130`;
  return undefined;
}
