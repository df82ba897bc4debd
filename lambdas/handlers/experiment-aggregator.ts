// The experiment aggregator function: the prediction table's stream -> arm counters (aggregation.ts). Its event
// source mapping has a tumbling window, so each event names its shard (the exactly-once marks are per shard).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { ExperimentStore } from '../adapters/experiment-store';
import { batchItemFailures, type BatchItemFailures } from '../core/stream-batch';
import type { StreamBatchEvent } from '../use-cases/aggregate-windows';
import { aggregateExperimentBatch } from '../use-cases/experiments/aggregate-exposures';
import { experimentConfigFromEnv } from '../contracts/experiment-environment';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'experiment-aggregate' });
const store = new ExperimentStore(new DynamoDBClient({}), experimentConfigFromEnv(process.env, ['experimentTable']).experimentTable);

/** `batchItemFailures` names the first record not counted (ReportBatchItemFailures; core/stream-batch.ts). */
export const handler = async (event: StreamBatchEvent): Promise<{ state: Record<string, never> } & BatchItemFailures> => {
  const result = await aggregateExperimentBatch({ store, logger }, event);
  if (result.updates > 0 || result.alreadyApplied > 0) logger.info('experiment counters updated', { records: event.Records.length, ...result });
  return { state: {}, ...batchItemFailures(event.Records.length, result.failed) };
};
