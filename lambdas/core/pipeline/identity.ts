// Model names and versions become API path segments, S3 prefixes and DynamoDB key parts. The same rules
// as lib/prop-validation.ts (which CDK code uses); kept here so the Lambda code does not import lib/.

export const MODEL_NAME_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
/** No '/', no '#'. */
export const MODEL_VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
