// The aggregator function: the prediction table's stream -> per-window aggregates (see aggregation.ts).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { ManifestStore } from '../adapters/manifest-store';
import { MonitoringStore } from '../adapters/monitoring-store';
import { batchItemFailures, type BatchItemFailures } from '../core/stream-batch';
import { aggregatorHandler } from '../use-cases/aggregate-windows';
import { monitoringConfigFromEnv } from '../contracts/monitoring-environment';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'aggregate' });
const config = monitoringConfigFromEnv(process.env, ['bucket', 'monitoringTable']);

const aggregate = aggregatorHandler({
  store: new MonitoringStore(new DynamoDBClient({}), config.monitoringTable),
  manifests: new ManifestStore(new S3Client({}), config.bucket),
  logger,
  windowMinutes: config.windowMinutes,
  minuteMs: config.minuteMs,
  windowTtlDays: config.windowTtlDays,
});

/**
 * With a tumbling window on the mapping Lambda expects `{ state }` back; the state is not used (the table holds
 * it). `batchItemFailures` names the first record not aggregated (ReportBatchItemFailures; core/stream-batch.ts).
 */
export const handler = async (event: Parameters<typeof aggregate>[0]): Promise<{ state: Record<string, never> } & BatchItemFailures> => {
  const result = await aggregate(event);
  logger.info('aggregated', { ...result });
  return { state: {}, ...batchItemFailures(event.Records.length, result.failed) };
};
