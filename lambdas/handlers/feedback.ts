// The feedback function: API Gateway POST /v1/feedback -> labels on the prediction log (see ground-truth.ts).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { FeedbackStore } from '../adapters/feedback-store';
import { ManifestStore } from '../adapters/manifest-store';
import { feedbackHandler } from '../use-cases/record-ground-truth';
import { monitoringConfigFromEnv } from '../contracts/monitoring-environment';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'feedback' });
const config = monitoringConfigFromEnv(process.env, ['bucket', 'predictionTable']);

export const handler = feedbackHandler({
  store: new FeedbackStore(new DynamoDBClient({}), config.predictionTable),
  manifests: new ManifestStore(new S3Client({}), config.bucket),
  logger,
});
