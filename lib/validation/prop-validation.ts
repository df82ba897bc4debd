/**
 * Construct prop validation: every construct collects all of its prop errors and throws them together,
 * so one synth shows every mistake at once, each with the offending value.
 */

/** Thrown by a construct whose props break one or more rules; `problems` lists each one. */
export class InvalidPropsError extends Error {
  override readonly name = 'InvalidPropsError';

  constructor(
    readonly construct: string,
    readonly problems: readonly string[],
  ) {
    super(`Invalid ${construct} props (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` + problems.map((problem) => `  - ${problem}`).join('\n'));
  }
}

/** Renders a prop value for an error message: strings quoted, so empty or padded values stay visible. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined || value === null) {
    return String(value);
  }
  return JSON.stringify(value) ?? String(value);
}

/** Collects prop errors for one construct; `throwIfAny` raises them all in one `InvalidPropsError`. */
export class PropErrors {
  private readonly problems: string[] = [];

  constructor(private readonly construct: string) {}

  /** Records `message` unless `ok`. */
  require(ok: boolean, message: string): void {
    if (!ok) this.problems.push(message);
  }

  /** Records problems found elsewhere (checks shared between constructs). */
  add(...problems: string[]): void {
    this.problems.push(...problems);
  }

  /** An optional integer prop within [min, max]. */
  integer(name: string, value: number | undefined, min: number, max: number): void {
    if (value === undefined) return;
    this.require(Number.isInteger(value) && value >= min && value <= max, `${name} must be an integer between ${min} and ${max}, got: ${show(value)}`);
  }

  /** An optional number prop that must be finite and > 0. */
  positive(name: string, value: number | undefined): void {
    if (value === undefined) return;
    this.require(Number.isFinite(value) && value > 0, `${name} must be a positive number, got: ${show(value)}`);
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw new InvalidPropsError(this.construct, this.problems);
  }
}

/** Model names become API path segments, S3 prefixes and DynamoDB key parts (manifest rule). */
export const MODEL_NAME_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
/** Versions become S3 prefixes and DynamoDB key parts: no '/', no '#'. */
export const MODEL_VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
