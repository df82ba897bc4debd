// The inference function: API Gateway -> validate -> ONNX session -> prediction log -> answer.
// Everything expensive happens once per container, during init (top-level await).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { FileFallbackSink, StdoutFallbackSink } from '../adapters/prediction-log';
import { servingConfigFromEnv } from './config';
import { initServing, type ProxyHandler } from './serving';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'modelgate-inference' });

async function init(): Promise<ProxyHandler> {
  try {
    const config = servingConfigFromEnv(process.env);
    const serving = await initServing(config, {
      s3: new S3Client({}),
      // Short timeouts and few attempts: a slow table must not hold the answer; the fallback takes over.
      dynamodb: new DynamoDBClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 500, requestTimeout: 1500 } }),
      fallback: config.fallbackFile ? new FileFallbackSink(config.fallbackFile) : new StdoutFallbackSink(),
      logger,
    });
    return serving.handle;
  } catch (error) {
    logger.error('init failed: the model cannot be served', error as Error);
    throw error;
  }
}

export const handler: ProxyHandler = await init();
