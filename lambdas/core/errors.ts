/** One problem with client input: where it is and why it is wrong. `row` is set for per-row problems. */
export interface Issue {
  readonly field: string;
  readonly reason: string;
  readonly row?: number;
}

/** Errors that map to an HTTP status; anything else is a 500 (and a bug). */
export abstract class HttpError extends Error {
  abstract readonly statusCode: number;
  constructor(
    message: string,
    readonly issues: readonly Issue[] = [],
  ) {
    super(message);
  }
}

/** The request is malformed or does not match the model's contract. */
export class ValidationError extends HttpError {
  override readonly name = 'ValidationError';
  readonly statusCode = 400;
}

/** The request names a model, version or route this deployment does not serve. */
export class NotFoundError extends HttpError {
  override readonly name = 'NotFoundError';
  readonly statusCode = 404;
}

/** The route exists but not with this HTTP method. */
export class MethodNotAllowedError extends HttpError {
  override readonly name = 'MethodNotAllowedError';
  readonly statusCode = 405;
}

/** A manifest that breaks the schema or is inconsistent with itself; `issues` names every bad field. */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  constructor(readonly issues: readonly Issue[]) {
    super(`invalid manifest: ${issues.map((i) => `${i.field}: ${i.reason}`).join('; ')}`);
  }
}

/** A model file larger than its manifest's limit (`model.maxBytes`): refused before its bytes are read. */
export class ModelTooLargeError extends Error {
  override readonly name = 'ModelTooLargeError';
  constructor(
    readonly where: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`MODEL_TOO_LARGE: ${where} is ${describeBytes(bytes)}, above the model size limit of ${describeBytes(limit)} (model.maxBytes); refused before reading it`);
  }
}

/** `150 MiB (157286400 bytes)` */
export function describeBytes(bytes: number): string {
  return `${Number((bytes / (1024 * 1024)).toPrecision(4))} MiB (${bytes} bytes)`;
}

/** Formats issues for logs and CLI output, one per line. */
export function describeIssues(issues: readonly Issue[]): string {
  return issues.map((i) => `${i.row === undefined ? '' : `row ${i.row}: `}${i.field}: ${i.reason}`).join('\n');
}
