// The experiment aggregator function: the prediction table's stream -> arm counters (aggregation.ts). Its event
// source mapping has a tumbling window, so each event names its shard (the exactly-once marks are per shard).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { ExperimentStore } from '../adapters/experiment-store';
import type { StreamChange } from '../core/monitoring/window';
import { toChange, type StreamBatchEvent } from '../use-cases/aggregate-windows';
import { aggregateForExperiments } from '../use-cases/experiments/aggregate-exposures';
import { experimentConfigFromEnv } from '../contracts/experiment-environment';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'experiment-aggregate' });
const store = new ExperimentStore(new DynamoDBClient({}), experimentConfigFromEnv(process.env, ['experimentTable']).experimentTable);

export const handler = async (event: StreamBatchEvent): Promise<{ state: Record<string, never> }> => {
  if (!event.shardId && event.Records.length > 0) logger.warn('the stream event names no shard (no tumbling window on the mapping): a retried batch may count twice');
  const shardId = event.shardId ?? `unknown-shard:${event.eventSourceARN ?? ''}`;
  const changes = event.Records.map((record) => toChange(record, shardId)).filter((c): c is StreamChange => c !== undefined);
  const result = await aggregateForExperiments({ store, logger }, shardId, changes);
  if (result.updates > 0 || result.alreadyApplied > 0) logger.info('experiment counters updated', { records: event.Records.length, ...result });
  return { state: {} };
};
