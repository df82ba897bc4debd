// The events function: API Gateway POST /v1/events -> counts in the running experiments (events-api.ts).
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { ExperimentStore, predictionFacts } from '../adapters/experiment-store';
import { experimentConfigFromEnv } from '../contracts/experiment-environment';
import { eventsHandler } from '../use-cases/experiments/record-events';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'experiment-events' });
const config = experimentConfigFromEnv(process.env, ['experimentTable', 'predictionTable']);
const dynamodb = new DynamoDBClient({});

export const handler = eventsHandler({
  store: new ExperimentStore(dynamodb, config.experimentTable),
  predictions: (ids) => predictionFacts(dynamodb, config.predictionTable, ids),
  logger,
  newEventId: randomUUID,
});
