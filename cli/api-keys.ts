// The stack's API keys, for the commands that call the model API as its clients do: the first key of each kind
// of client (docs/serving.md), read as an operator reads it on AWS — GetApiKey with includeValue on the key id
// the stack outputs (`PredictApiKeyId`...). The local runtime answers the same call on its API Gateway API.
import { APIGatewayClient, GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { apiKeyOutputName, type ApiClient } from '../lambdas/core/api-clients';
import { LOCAL_CREDENTIALS } from '../local/aws-clients';
import { requireOutput, type Target } from './target';
import { UsageError } from './usage-error';

/** The value of the stack's first key of each of `clients`. */
export async function apiKeyValues<C extends ApiClient>(target: Target, clients: readonly C[]): Promise<Record<C, string>> {
  const ids = clients.map((client) => [client, requireOutput(target, apiKeyOutputName(client))] as const);
  if (target.kind === 'local' && !target.endpoints.apiGateway) {
    throw new UsageError(`the local runtime (${target.description}) does not name its API Gateway API`, 'restart it with `npm start` so that it writes the current endpoints file');
  }
  const apiGateway = target.endpoints.apiGateway
    ? new APIGatewayClient({ endpoint: target.endpoints.apiGateway, region: target.region, credentials: LOCAL_CREDENTIALS })
    : new APIGatewayClient({ region: target.region });
  const values = await Promise.all(
    ids.map(async ([client, id]) => {
      try {
        const { value } = await apiGateway.send(new GetApiKeyCommand({ apiKey: id, includeValue: true }));
        if (value) return [client, value] as const;
      } catch (error) {
        if ((error as Error).name !== 'NotFoundException') throw error;
      }
      throw new UsageError(
        `the ${client} API key the stack names (${apiKeyOutputName(client)} ${id}) does not exist in API Gateway (${target.description})`,
        target.kind === 'aws' ? 'deploy the stack again with `npx cdk deploy` to recreate it' : 'restart the local runtime with `npm start`',
      );
    }),
  );
  return Object.fromEntries(values) as Record<C, string>;
}
