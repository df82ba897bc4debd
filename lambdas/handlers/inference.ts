// The inference function: API Gateway -> validate -> ONNX session -> prediction log -> answer.
// Everything expensive happens once per container, during init (top-level await).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { ExperimentRouter } from '../adapters/experiment-router';
import { ExperimentStore } from '../adapters/experiment-store';
import { FileFallbackSink, StdoutFallbackSink } from '../adapters/prediction-log';
import { Registry } from '../adapters/registry';
import { ShadowMirror } from '../adapters/shadow-mirror';
import { INFERENCE_VARIABLES, servingConfigFromEnv } from '../contracts/environment';
import { initServing, type ProxyHandler } from '../use-cases/serve-predictions';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'modelgate-inference' });

async function init(): Promise<ProxyHandler> {
  try {
    const config = servingConfigFromEnv(process.env);
    // Sticky (unit-level) experiments: present when the stack has an experiment table (lib/experiment-service.ts).
    const experimentTable = process.env[INFERENCE_VARIABLES.experimentTable];
    const router = experimentTable
      ? new ExperimentRouter({ store: new ExperimentStore(new DynamoDBClient({}), experimentTable), lambda: new LambdaClient({}), functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? '', logger })
      : undefined;
    // Shadow rollouts: the registry says which version (if any) mirrors this model's traffic.
    const registryTable = process.env[INFERENCE_VARIABLES.registryTable];
    const shadow = registryTable
      ? new ShadowMirror({
          registry: new Registry(new DynamoDBClient({ maxAttempts: 2 }), registryTable),
          lambda: new LambdaClient({ maxAttempts: 2 }),
          functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? '',
          model: process.env[INFERENCE_VARIABLES.modelName] ?? '',
          logger,
        })
      : undefined;
    const serving = await initServing(config, {
      s3: new S3Client({}),
      // Short timeouts and few attempts: a slow table must not hold the answer; the fallback takes over.
      dynamodb: new DynamoDBClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 500, requestTimeout: 1500 } }),
      fallback: config.fallbackFile ? new FileFallbackSink(config.fallbackFile) : new StdoutFallbackSink(),
      logger,
      ...(router ? { router } : {}),
      ...(shadow ? { shadow } : {}),
    });
    await shadow?.start();
    await router?.start(serving.model.manifest.name, serving.model.manifest.version);
    return serving.handle;
  } catch (error) {
    logger.error('init failed: the model cannot be served', error as Error);
    throw error;
  }
}

export const handler: ProxyHandler = await init();
