// Files the local runtime keeps in its state folder that the CLI and scripts read: apart from runtime.ts so
// that reading them does not load the runtime.
import type { ApiClient } from '../lambdas/core/api-clients';

/**
 * Written to `<stateDir>/endpoints.json` while the runtime runs: how the CLI and scripts find the local
 * stack (endpoints and resolved stack outputs), as they read CloudFormation outputs for a deployed stack.
 */
export interface LocalEndpoints {
  readonly apiUrl: string;
  /** The value of the first key of each kind of client: predict, feedback, events (send it as x-api-key). */
  readonly apiKeys?: Readonly<Partial<Record<ApiClient, string>>>;
  readonly dynamoDbEndpoint: string;
  readonly s3Endpoint: string;
  readonly region: string;
  readonly stackName: string;
  readonly outputs: Readonly<Record<string, string>>;
  /** The local Lambda and Step Functions APIs (promote, rollback, following a push). */
  readonly lambdaEndpoint?: string;
  readonly stepFunctionsEndpoint?: string;
  /** The local CloudFormation and API Gateway APIs (stacks of models, deployments, API keys). */
  readonly cloudFormationEndpoint?: string;
  readonly apiGatewayEndpoint?: string;
}

export const ENDPOINTS_FILE = 'endpoints.json';

/** Prediction records the table did not take, one JSON line each (`modelgate reingest` puts them back). */
export const PREDICTION_LOG_FALLBACK_FILE = 'prediction-log-fallback.jsonl';
