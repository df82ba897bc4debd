/**
 * Bad usage or bad input given to a CLI command, an unknown name, or a target that cannot be used: the CLI
 * prints the message and the next step, and exits 2.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';

  constructor(
    message: string,
    /** What to do about it, when the message does not say (printed after it). */
    readonly nextStep?: string,
  ) {
    super(message);
  }
}
