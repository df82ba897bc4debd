export type CloudFormationErrorCode =
  | 'ValidationError'
  | 'AlreadyExistsException'
  | 'InsufficientCapabilitiesException'
  | 'LimitExceededException'
  | 'InvalidAction'
  | 'MissingParameter'
  | 'AccessDenied'
  | 'InvalidClientTokenId';

/** An error CloudFormation returns to the caller (the query protocol's `<Error><Code>`), with its HTTP status. */
export class CloudFormationError extends Error {
  constructor(
    readonly code: CloudFormationErrorCode,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}
