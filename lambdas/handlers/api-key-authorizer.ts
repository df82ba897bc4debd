// The API's authorizer function: an API key may call the routes of its usage plan's kind of client only
// (predict, feedback, events; use-cases/authorize-api-key.ts).
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { UsagePlans } from '../adapters/usage-plans';
import { API_CLIENTS, type ApiClient, type AuthorizerPolicy } from '../core/api-clients';
import { usagePlanName } from '../core/naming';
import { pipelineEnvironment } from '../contracts/pipeline-environment';
import { authorizeApiKey, KeyDirectory } from '../use-cases/authorize-api-key';

let directory: KeyDirectory | undefined;

export const handler = async (event: APIGatewayRequestAuthorizerEvent): Promise<AuthorizerPolicy> => {
  if (!directory) {
    const { deployment } = pipelineEnvironment(process.env, ['deployment']);
    const planNames = Object.fromEntries(API_CLIENTS.map((client) => [client, usagePlanName(deployment, client)])) as Record<ApiClient, string>;
    directory = new KeyDirectory(new UsagePlans(new APIGatewayClient({}), planNames), {
      onStale: (error) => console.warn(JSON.stringify({ level: 'WARN', message: 'usage plans unreadable: answering from the keys read before', error: error.message })),
    });
  }
  const answer = await authorizeApiKey(directory, event);
  if (answer.policyDocument.Statement[0]?.Effect === 'Deny')
    console.info(JSON.stringify({ level: 'INFO', message: 'API key in no usage plan of the deployment: denied', methodArn: event.methodArn }));
  return answer;
};
