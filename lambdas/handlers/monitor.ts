// The monitor function: scheduled (EventBridge rate rule) -> drift and quality per model version -> EMF (see monitoring.ts).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { ManifestStore } from '../adapters/manifest-store';
import { emitMonitorMetrics } from '../adapters/monitor-metrics';
import { MonitoringStore } from '../adapters/monitoring-store';
import { monitorHandler } from '../use-cases/monitor-versions';
import { monitoringConfigFromEnv } from '../contracts/monitoring-environment';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'monitor' });
const config = monitoringConfigFromEnv(process.env, ['bucket', 'monitoringTable']);

export const handler = monitorHandler(config, {
  store: new MonitoringStore(new DynamoDBClient({}), config.monitoringTable),
  manifests: new ManifestStore(new S3Client({}), config.bucket),
  logger,
  emit: (model, version, data, at) => emitMonitorMetrics(model, version, data, at, config.metricsNamespace),
});
