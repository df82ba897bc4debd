// The experiments read function: GET /v1/experiments[/{id}] (experiments-api.ts). Read-only on the experiment table.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ExperimentStore } from '../adapters/experiment-store';
import { experimentConfigFromEnv } from '../contracts/experiment-environment';
import { experimentsApi } from '../use-cases/experiments/serve-experiments';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'experiments' });
const store = new ExperimentStore(new DynamoDBClient({}), experimentConfigFromEnv(process.env, ['experimentTable']).experimentTable);

export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  try {
    return await experimentsApi(store, event, new Date());
  } catch (error) {
    logger.error('experiment read failed', error as Error);
    return {
      statusCode: 500,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: 'InternalError', message: 'the experiment could not be read; the error is logged' }),
    };
  }
};
